#pragma once
// Records with their deadlines, as dump, load and convert move them between stores: a
// walk of a store that gives each key's deadline beside its value, and a writer that
// puts records into a store a batch at a time, deadlines and all.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include "dump_format.hpp"
#include "tool_store.hpp"

namespace kvforge_tool {

/// A deadline of a store as a dump carries it, and back.
[[nodiscard]] dump_deadline deadline_in_dump(tool_store::time_point deadline);
[[nodiscard]] tool_store::time_point deadline_in_store(std::int64_t nanoseconds);

/// Calls on_record(key, value, deadline) for every record of db in key order (db is opened
/// with a sorted index; a store in a cluster, which has no order, in the order its nodes
/// give), with the key's deadline when db is expiring. A key whose deadline
/// comes during the walk is passed over, as if it had come before.
void for_each_record(const tool_store& db,
                     const std::function<void(const std::string&, const std::string&, dump_deadline)>& on_record,
                     std::error_code& ec);

/// Puts records into a store a batch at a time (each batch all or none; one at a time into
/// a store in a cluster, whose batches hold keys of one slot), with their deadlines: a store
/// without expiry refuses a batch that has one (errc::not_supported).
class record_writer {
public:
    explicit record_writer(tool_store& db) noexcept : db_(db) {}

    /// Adds a record, and writes the batch once it is full.
    void put(std::string_view key, std::string_view value, dump_deadline deadline, std::error_code& ec);
    /// Writes the records added since the last batch.
    void flush(std::error_code& ec);

    /// Records written so far.
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }

private:
    tool_store& db_;
    tool_store::batch_type pending_;
    std::uint64_t written_ = 0;
};

}  // namespace kvforge_tool
