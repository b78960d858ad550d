// kvforge load DIR < FILE: the records of a dump into a store, creating it if needed.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../dump_format.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../progress.hpp"
#include "../records.hpp"
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
    codecs.expiry = header.expiry;
    opened_store store = open_or_create(dir, parsed.value("as").value_or(""), codecs);

    const std::uint64_t size = stdin_size();
    progress_bar progress("load " + dir, size, progress_bar::unit::bytes);
    record_writer writer(store.db);
    std::error_code ec;
    const auto write_failed = [&] {
        fail_store(ec, "load into " + dir + " after " + std::to_string(writer.written()) + " records", dir);
    };
    std::string key;
    std::string value;
    dump_deadline deadline;
    for (;;) {
        const dump_reader::step step = reader.next(key, value, deadline, problem);
        if (step == dump_reader::step::end) break;
        if (step == dump_reader::step::failed) {
            writer.flush(ec);
            if (ec) write_failed();
            store.db.close(ec);
            throw store_failure("load " + dir + ": stdin " + problem + "; " + std::to_string(writer.written()) +
                                " records were loaded before it");
        }
        writer.put(key, value, deadline, ec);
        if (ec) write_failed();
        progress.update(reader.bytes_read());
    }
    writer.flush(ec);
    if (ec) write_failed();
    store.db.close(ec);
    if (ec) fail_store(ec, "load into " + dir, dir);
    std::printf("loaded %llu records into %s\n", static_cast<unsigned long long>(writer.written()), dir.c_str());
    return exit_ok;
}

}  // namespace

const command load_command = {
    "load", "load DIR < FILE             records from a dump; creates the store (--as SPEC)",
    "usage: kvforge load DIR [--as SPEC] < FILE\n"
    "\n"
    "Writes every record of a dump (made by kvforge dump) read from stdin into the store in\n"
    "DIR, replacing the values of keys it already has, and syncs it. A key the dump gives a\n"
    "deadline gets that deadline (one that has passed stores nothing), which needs a store\n"
    "with expiry. A store is created when DIR holds none, with the codecs the dump names and,\n"
    "when the dump was made of a store with expiry, with `expiring`; an existing store must\n"
    "have the dump's codecs. A dump cut short or changed on the way is refused at its end,\n"
    "after loading the records before the damage. Dumps of version 1 load as well.\n"
    "\n"
    "  --as SPEC   spec words for a new store (default file_log,hash_index,buffered),\n"
    "              e.g. --as mmap_file,sorted,sync_each; `expiring` is added for a dump\n"
    "              with expiry\n",
    run};

}  // namespace kvforge_tool
