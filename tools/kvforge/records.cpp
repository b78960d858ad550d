#include "records.hpp"

#include <chrono>
#include <optional>

namespace kvforge_tool {

namespace {

/// A batch is written once it holds this many records, or this many bytes, if sooner:
/// what a load or convert holds in memory, whatever the size of the stores.
constexpr std::size_t batch_records = 4096;
constexpr std::size_t batch_bytes = std::size_t{4} << 20;

}  // namespace

dump_deadline deadline_in_dump(tool_store::time_point deadline) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
}

tool_store::time_point deadline_in_store(std::int64_t nanoseconds) {
    return tool_store::time_point(
        std::chrono::duration_cast<tool_store::clock::duration>(std::chrono::nanoseconds(nanoseconds)));
}

void for_each_record(const tool_store& db,
                     const std::function<void(const std::string&, const std::string&, dump_deadline)>& on_record,
                     std::error_code& ec) {
    const bool expiring = db.composition().expiry != "none";
    std::error_code lookup;
    const auto visit = [&](const std::string& key, const std::string& value) {
        if (lookup) return;
        if (!expiring) {
            on_record(key, value, std::nullopt);
            return;
        }
        // expiry() says nothing both for a key without a deadline and for one whose
        // deadline came since the walk read it: only the first is still there.
        const std::optional<tool_store::time_point> deadline = db.expiry(key, lookup);
        const bool gone = deadline ? *deadline <= tool_store::clock::now() : !lookup && !db.contains(key, lookup);
        if (!lookup && !gone) on_record(key, value, deadline ? deadline_in_dump(*deadline) : std::nullopt);
    };
    if (db.ordered()) {
        for (const auto& [key, value] : db.scan_from("", ec)) {
            visit(key, value);
            if (lookup) break;
        }
    } else {
        db.for_each(visit, ec);  // a store in a cluster: no order across keys
    }
    if (!ec) ec = lookup;
}

void record_writer::put(std::string_view key, std::string_view value, dump_deadline deadline, std::error_code& ec) {
    if (!db_.batches_of_any_keys()) {  // a store in a cluster: a batch holds keys of one slot
        if (deadline) {
            db_.put(key, value, deadline_in_store(*deadline), ec);
        } else {
            db_.put(key, value, ec);
        }
        if (!ec) ++written_;
        return;
    }
    if (deadline) {
        pending_.put(key, value, deadline_in_store(*deadline), ec);
    } else {
        pending_.put(key, value, ec);
    }
    if (ec) return;
    if (pending_.size() >= batch_records || pending_.operations().bytes().size() >= batch_bytes) flush(ec);
}

void record_writer::flush(std::error_code& ec) {
    ec.clear();
    if (pending_.empty()) return;
    db_.write(pending_, ec);
    if (ec) return;
    written_ += pending_.size();
    pending_.clear();
}

}  // namespace kvforge_tool
