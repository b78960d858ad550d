// What a store makes of a pwrite that transfers nothing (returns 0): the write fails
// instead of being repeated for ever, and the store takes no more writes until reopened.

#include <catch2/catch.hpp>

#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

// Unqualified where the TEMPLATE_TEST_CASE names them: Catch names its test cases by the types as written.
using kvforge::async_worker;
using kvforge::buffered;
using kvforge::file_log;
using kvforge::mmap_file;
using kvforge::sync_each;

namespace {

template <class Store, class Durability>
using faulty_store = kvforge::store<std::string, std::string, Store, Durability, kvforge::fault_injecting_io<>>;

}  // namespace

TEMPLATE_TEST_CASE("a pwrite that writes nothing fails the write", "[io_results]",
                   (faulty_store<file_log, sync_each>), (faulty_store<file_log, buffered<>>),
                   (faulty_store<mmap_file, async_worker<>>)) {
    temp_dir dir;
    kvforge::fault_injecting_io<> io;
    TestType db(dir / "db", {}, io);
    db.put("before", "kept");
    db.sync();
    const std::uint64_t writes_before = io.calls(kvforge::io_call::pwrite);
    io.inject({.at = 1, .calls = kvforge::io_call::pwrite, .effect = kvforge::fault_effect::no_transfer});
    // The write fails where the durability policy writes: in put (sync_each), in sync
    // (buffered), or in the worker, whose failure the next call reports (async_worker).
    std::error_code first;
    std::string message;
    auto note = [&](const std::error_code& ec) {
        if (ec && !first) {
            first = ec;
            message = kvforge::last_error_message();
        }
    };
    std::error_code ec;
    if constexpr (TestType::sequenced) {
        const std::uint64_t sequence = db.put("during", "lost", ec);
        note(ec);
        db.wait_durable(sequence, ec);
        note(ec);
        CHECK(first == kvforge::errc::store_failed);
    } else {
        db.put("during", "lost", ec);
        note(ec);
        db.sync(ec);
        note(ec);
        CHECK(first == std::errc::io_error);
    }
    CHECK_THAT(message, Catch::Contains("wrote nothing"));
    CHECK(io.calls(kvforge::io_call::pwrite) == writes_before + 1);  // not repeated
    db.put("after", "refused", ec);
    CHECK(ec == kvforge::errc::store_failed);
    db.close(ec);

    db.open(dir / "db", {}, io);
    CHECK(db.get("before") == std::optional<std::string>("kept"));
    db.put("after", "reopened");
    CHECK(db.get("after") == std::optional<std::string>("reopened"));
}
