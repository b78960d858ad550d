// kvforge load DIR < FILE: the records of a dump into a store, creating it if needed.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <kvforge/batch.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../dump_format.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../progress.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// The size of stdin when it is a file, for progress; 0 when it is a pipe or a terminal.
std::uint64_t stdin_size() {
    struct stat info {};
    if (::fstat(STDIN_FILENO, &info) != 0 || !S_ISREG(info.st_mode)) return 0;
    return static_cast<std::uint64_t>(info.st_size);
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"as", true}});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    dump_reader reader(stdin);
    dump_header header;
    std::string problem;
    if (!reader.read_header(header, problem)) throw store_failure("load " + dir + ": stdin " + problem);
    kvforge::composition codecs;
    codecs.key_codec = header.key_codec;
    codecs.value_codec = header.value_codec;
    codecs.codec_fingerprint = header.codec_fingerprint;
    opened_store store = open_or_create(dir, parsed.value("as").value_or(""), codecs);

    const std::uint64_t size = stdin_size();
    progress_bar progress("load " + dir, size, progress_bar::unit::bytes);
    kvforge::batch<std::string, std::string> pending;
    std::uint64_t loaded = 0;
    std::error_code ec;
    auto write_pending = [&] {
        store.db.write(pending, ec);
        if (ec) fail_store(ec, "load into " + dir + " after " + std::to_string(loaded) + " records", dir);
        loaded += pending.size();
        pending.clear();
    };
    std::string key;
    std::string value;
    for (;;) {
        const dump_reader::step step = reader.next(key, value, problem);
        if (step == dump_reader::step::end) break;
        if (step == dump_reader::step::failed) {
            write_pending();
            store.db.close(ec);
            throw store_failure("load " + dir + ": stdin " + problem + "; " + std::to_string(loaded) +
                                " records were loaded before it");
        }
        pending.put(key, value, ec);
        if (ec) fail_store(ec, "load " + dir + ": record " + std::to_string(loaded + pending.size() + 1), dir);
        if (pending.size() == 4096 || pending.operations().bytes().size() >= (std::size_t{4} << 20)) write_pending();
        progress.update(reader.bytes_read());
    }
    write_pending();
    store.db.close(ec);
    if (ec) fail_store(ec, "load into " + dir, dir);
    std::printf("loaded %llu records into %s\n", static_cast<unsigned long long>(loaded), dir.c_str());
    return exit_ok;
}

}  // namespace

const command load_command = {
    "load", "load DIR < FILE             records from a dump; creates the store (--as SPEC)",
    "usage: kvforge load DIR [--as SPEC] < FILE\n"
    "\n"
    "Writes every record of a dump (made by kvforge dump) read from stdin into the store in\n"
    "DIR, replacing the values of keys it already has, and syncs it. A store is created\n"
    "when DIR holds none, with the codecs the dump names; an existing store must have them.\n"
    "A dump cut short or changed on the way is refused at its end, after loading the\n"
    "records before the damage.\n"
    "\n"
    "  --as SPEC   spec words for a new store (default file_log,hash_index,buffered),\n"
    "              e.g. --as mmap_file,sorted,sync_each\n",
    run};

}  // namespace kvforge_tool
