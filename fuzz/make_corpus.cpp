// Writes the fuzzers' seed corpora: fuzz/corpus/open/ (the files of small real stores,
// whole, damaged, with and without a hint, under several modes), fuzz/corpus/ops/
// (short operation sequences touching every operation) and fuzz/corpus/table/ (a block, a
// table, entries to build one from and a list of tables). Run by `tools/fuzz.sh corpus`.
//
// Usage: make_corpus <fuzz directory>

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "../tests/support/file_bytes.hpp"
#include "scratch_dir.hpp"
#include "table_harness.hpp"

namespace {

namespace fs = std::filesystem;

using kvforge_test::read_file;
using kvforge_test::write_file;

/// The open harness's input: a mode byte, then the data file, or its length and the data and hint files.
std::string open_input(unsigned char mode, const std::string& data, const std::string* hint = nullptr) {
    std::string input(1, static_cast<char>(mode));
    if (hint != nullptr) {
        input.push_back(static_cast<char>(data.size() & 0xff));
        input.push_back(static_cast<char>(data.size() >> 8));
    }
    return input + data + (hint != nullptr ? *hint : std::string());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_corpus <fuzz directory>\n");
        return 2;
    }
    const fs::path out(argv[1]);
    fs::create_directories(out / "corpus" / "open");
    fs::create_directories(out / "corpus" / "ops");
    fs::create_directories(out / "corpus" / "table");

    // A small store: puts, a replaced value, an erase and a batch.
    const fs::path dir = kvforge_fuzz::scratch().fresh_store();
    {
        kvforge::store<std::string, std::string, kvforge::file_log> db(dir.string());
        db.put("alpha", "one");
        db.put("bravo", "two");
        db.erase("alpha");
        kvforge::batch<std::string, std::string> b;
        b.put("charlie", "three");
        b.erase("bravo");
        db.write(b);
        db.put("charlie", "three again");
    }
    const std::string data = read_file(dir / "data-0000000001.kvlog");
    const std::string hint = read_file(dir / "data-0000000001.kvhint");
    std::string damaged = data;
    damaged[40] = static_cast<char>(damaged[40] ^ 0x10);  // inside the first record

    const fs::path open = out / "corpus" / "open";
    write_file(open / "log-hash", open_input(0x00, data));
    write_file(open / "log-repaired", open_input(0x01, damaged));
    write_file(open / "log-sorted-hint", open_input(0x06, data, &hint));
    write_file(open / "mapped-hash-hint-repaired", open_input(0x0b, data, &hint));
    write_file(open / "mapped-sorted-damaged", open_input(0x0c, damaged));
    write_file(open / "torn-tail", open_input(0x00, data.substr(0, data.size() - 3)));

    // Operation sequences: opcode bytes as ops_harness.hpp reads them.
    const fs::path ops = out / "corpus" / "ops";
    const std::string put_a = {0, 5, 3, 'x', 'y', 'z'};
    const std::string put_b = {1, 9, 2, 'p', 'q'};
    const std::string erase_a = {2, 5};
    const std::string get_a = {3, 5};
    const std::string batch = {4, 2, 5, 1, 1, 'v', 7, 0};
    const std::string compact = {5};
    const std::string reopen = {6};
    const std::string clear = {7};
    const std::string compare = {8};
    const std::string sync = {9, 1};
    write_file(ops / "log-hash-every-op", std::string(1, '\0') + put_a + put_b + get_a + batch + erase_a + compact +
                                              reopen + compare + sync + clear + put_a + reopen);
    write_file(ops / "log-sorted-reopen", std::string(1, '\1') + put_a + put_b + reopen + erase_a + reopen + compare);
    write_file(ops / "mapped-async-batch", std::string(1, '\2') + batch + batch + compact + get_a + reopen);
    write_file(ops / "mapped-no-hints", std::string(1, '\7') + put_a + put_b + erase_a + reopen + compare);
    std::string many_puts(1, '\0');
    for (int i = 0; i < 60; ++i) many_puts += std::string{0, static_cast<char>(i), 40} + std::string(40, 'w');
    write_file(ops / "log-hash-auto-compaction", many_puts + reopen + compare);

    // Tables: the table harness's modes (table_harness.hpp), each from a small table.
    const fs::path table = out / "corpus" / "table";
    std::string entries;
    for (int i = 0; i < 40; ++i) {
        const std::string key = "key" + std::to_string(100 + i);
        entries += std::string{static_cast<char>(key.size()), 12} + key + std::string(12, static_cast<char>('a' + i % 26));
    }
    kvforge_test::memory_file file;
    kvforge::detail::table_layout layout;
    layout.block_size = 64;
    {
        kvforge::detail::table_builder<kvforge::uncompressed_blocks, kvforge_test::memory_file> builder(
            kvforge::uncompressed_blocks{}, file, {}, layout);
        std::error_code ec;
        for (int i = 0; i < 40; ++i) {
            const std::string key = "key" + std::to_string(100 + i);
            const std::string value(12, static_cast<char>('a' + i % 26));
            kvforge::detail::table_entry entry;
            entry.key = key;
            entry.value = value;
            if (!builder.add(entry, ec)) return 1;
        }
        if (!builder.finish(ec)) return 1;
    }
    kvforge::detail::block_builder block;
    for (int i = 0; i < 40; ++i) {
        const std::string key = "key" + std::to_string(100 + i);
        kvforge::detail::table_entry entry;
        entry.key = key;
        entry.value = "v";
        block.add(entry);
    }
    write_file(table / "block", std::string(1, '\0') + std::string(block.finish()));
    write_file(table / "table", std::string(1, '\1') + file.bytes);
    write_file(table / "entries-flip-in-block", std::string(1, '\2') + entries + std::string{90, 0});
    write_file(table / "entries-flip-in-footer", std::string(1, '\2') + entries + std::string{static_cast<char>(0xf0), 7});
    // list-format1 beside it holds a list of the same tables in list format 1, as an
    // earlier kvforge wrote it: keep that file as it is.
    kvforge::detail::table_list list;
    list.oldest_log = 5;
    list.newest_log = 7;
    list.tables = {{0, 9, 4096}, {1, 3, 65536}, {2, 4, 1 << 20}};
    write_file(table / "list", std::string(1, '\3') + list.encode());
    return 0;
}
