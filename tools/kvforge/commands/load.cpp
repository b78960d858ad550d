// kvforge load DIR < FILE: the records of a dump into a store, creating it if needed.

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../dump_format.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../plural.hpp"
#include "../progress.hpp"
#include "../records.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// Set by SIGINT (Ctrl-C): the load stops after the record it is at and says what it kept.
volatile std::sig_atomic_t interrupted = 0;

void on_interrupt(int) { interrupted = 1; }

/// Catches SIGINT, without SA_RESTART, so that a read of stdin waiting for more returns.
void catch_interrupt() {
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(SIGINT, &action, nullptr);
}

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
    catch_interrupt();
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
    std::uint64_t read = 0;
    // A write fails for a batch: the records before it were handed to the store, and the
    // store keeps a prefix of them (those that reached the disk), none of the batch.
    const auto write_failed = [&] {
        fail_store(ec,
                   "load into " + dir + " stopped at record " + std::to_string(read) + " of the dump (" +
                       std::to_string(writer.written()) +
                       " records before the batch it was in were written; the store keeps those of them that reached "
                       "the disk, and `kvforge stat " +
                       dir + "` counts its keys; loading the whole dump again is safe: it writes the same values)",
                   dir);
    };
    std::string key;
    std::string value;
    dump_deadline deadline;
    for (;;) {
        const dump_reader::step step = interrupted ? dump_reader::step::end : reader.next(key, value, deadline, problem);
        if (interrupted) {
            // What was read is written and synced, so that what the message says is durable.
            writer.flush(ec);
            if (ec) write_failed();
            store.db.close(ec);
            if (ec) fail_store(ec, "load into " + dir, dir);
            std::fprintf(stderr,
                         "kvforge: load into %s interrupted: the first %llu records of the dump are in the store, "
                         "synced to disk; the rest were not loaded (loading the whole dump again is safe: it writes "
                         "the same values)\n",
                         dir.c_str(), static_cast<unsigned long long>(writer.written()));
            return exit_interrupted;
        }
        if (step == dump_reader::step::end) break;
        if (step == dump_reader::step::failed) {
            writer.flush(ec);
            if (ec) write_failed();
            store.db.close(ec);
            throw store_failure("load " + dir + ": stdin " + problem + "; " + std::to_string(writer.written()) +
                                " records were loaded before it");
        }
        ++read;
        writer.put(key, value, deadline, ec);
        if (ec) write_failed();
        progress.update(reader.bytes_read());
    }
    writer.flush(ec);
    if (ec) write_failed();
    store.db.close(ec);
    if (ec) fail_store(ec, "load into " + dir, dir);
    std::printf("loaded %s into %s\n", count_of(writer.written(), "record").c_str(), dir.c_str());
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
    "Interrupted (Ctrl-C), load writes and syncs the records read so far, says how many,\n"
    "and exits 130.\n"
    "\n"
    "  --as SPEC   spec words for a new store (default file_log,hash_index,buffered),\n"
    "              e.g. --as mmap_file,sorted,sync_each; `expiring` is added for a dump\n"
    "              with expiry\n",
    run};

}  // namespace kvforge_tool
