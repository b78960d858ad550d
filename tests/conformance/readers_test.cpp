// Readers beside a writer, on every configuration with files: a read-only store opens
// while a writer holds the store, sees what the writer had written at its open, and
// refresh() catches it up with what the writer appended (records, rolled-over segments,
// a batch whole) or rewrote (compaction, clear(), a new writer's open). A snapshot of the
// reader keeps its view across refreshes, and refresh() on a writable store is an error.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>

#include "../support/temp_dir.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// A refresh when the writer wrote nothing since: nothing applied, unless the writer's
/// compaction thread (thread_safe) rewrote files meanwhile, whose outputs it applies.
template <class Store>
void check_nothing_new(Store& reader, const contents& model) {
    const std::uint64_t applied = reader.refresh();
    if constexpr (!is_concurrent<Store>) CHECK(applied == 0);
    CHECK(read_all(reader) == model);
}

std::string reader_key(int i) { return "key" + std::to_string(1000 + i % 400); }
std::string reader_value(int i) { return "value " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), '.'); }

/// Small segments, so that the writes below roll over several times.
options writer_options() {
    options opts;
    opts.segment_bytes = 64 << 10;
    opts.compact_min_bytes = 64 << 10;
    return opts;
}

options reader_options() {
    options opts;
    opts.read_only = true;
    return opts;
}

/// Writes puts from..to into db and the model, erasing every seventh key again.
template <class Store>
void write_range(Store& db, contents& model, int from, int to) {
    for (int i = from; i < to; ++i) {
        db.put(reader_key(i), reader_value(i));
        model[reader_key(i)] = reader_value(i);
        if (i % 7 == 0) {
            db.erase(reader_key(i));
            model.erase(reader_key(i));
        }
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a reader beside a writer sees what it wrote, and refresh() catches it up",
                        "[conformance][readers]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        contents model;
        TestType writer(path, writer_options());
        write_range(writer, model, 0, 300);
        writer.sync();

        TestType reader(path, reader_options());
        CHECK(read_all(reader) == model);
        check_nothing_new(reader, model);

        // Appended: records in the newest segment, then segments rolled over, and a batch.
        write_range(writer, model, 300, 4000);
        typename TestType::batch_type batch;
        batch.put("batch one", "1");
        batch.put("batch two", "2");
        batch.erase(reader_key(3999));
        writer.write(batch);
        model["batch one"] = "1";
        model["batch two"] = "2";
        model.erase(reader_key(3999));
        writer.sync();
        CHECK(reader.refresh() > 0);  // the records appended, and any compaction's outputs
        CHECK(read_all(reader) == model);
        CHECK(reader.size() == model.size());
        check_nothing_new(reader, model);

        // Rewritten: a compaction retires the segments the reader reads; its snapshot
        // keeps reading them.
        auto before_compaction = reader.snapshot();
        const contents seen = model;
        writer.compact();
        write_range(writer, model, 4000, 4100);
        writer.sync();
        CHECK(reader.refresh() > 0);
        CHECK(read_all(reader) == model);
        CHECK(read_all(before_compaction) == seen);

        // clear(), and a writer that closes and another that opens.
        writer.clear();
        writer.put("after clear", "kept");
        writer.close();
        TestType next_writer(path, writer_options());
        next_writer.put("next writer", "here");
        next_writer.sync();
        reader.refresh();
        CHECK(read_all(reader) == contents{{"after clear", "kept"}, {"next writer", "here"}});
        CHECK(read_all(before_compaction) == seen);

        std::error_code ec;
        next_writer.refresh(ec);
        CHECK(ec == kvforge::errc::invalid_argument);
        CHECK(next_writer.get("next writer") == std::optional<std::string>("here"));
    }
}

TEMPLATE_LIST_TEST_CASE("a refresh after a compaction applies what the compaction published, not the whole store",
                        "[conformance][readers]", all_configs) {
    if constexpr (has_files<TestType>) {
        temp_dir dir;
        const std::string path = dir / "db";
        contents model;
        TestType writer(path, writer_options());
        // Written in key order, so that no sorting job rewrites them: the segments of these
        // records are never worth compacting.
        constexpr int stored_keys = 20000;
        for (int i = 0; i < stored_keys; ++i) {
            char key[16];
            std::snprintf(key, sizeof key, "stored%06d", i);
            writer.put(key, reader_value(i));
            model[key] = reader_value(i);
        }
        writer.sync();
        TestType reader(path, reader_options());
        REQUIRE(reader.size() == model.size());

        // Overwrites of a few keys: their segments are mostly dead, and compaction rewrites
        // them into outputs of at most a few hundred records each.
        constexpr int per_refresh = 1000;
        for (int round = 0; round < 400 && writer.stats().compactions < 3; ++round) {
            for (int i = round * per_refresh; i < (round + 1) * per_refresh; ++i) {
                writer.put(reader_key(i), reader_value(i));
                model[reader_key(i)] = reader_value(i);
            }
            writer.sync();
            const std::uint64_t applied = reader.refresh();
            INFO("round " << round << ", compactions so far " << writer.stats().compactions);
            CHECK(applied > 0);
            CHECK(applied < stored_keys / 4);  // a reread of the store applies all of it
        }
        CHECK(writer.stats().compactions >= 3);
        CHECK(read_all(reader) == model);
        CHECK(reader.stats().live_bytes == writer.stats().live_bytes);
    }
}
