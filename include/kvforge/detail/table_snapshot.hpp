#pragma once
/// \file table_snapshot.hpp
/// Copies of an index table, for snapshots: copy_table() (a log store's snapshot copies
/// its index of record places) and table_snapshot, a memory store's snapshot, whose
/// table holds the values themselves. A snapshot's table is never changed once made, so
/// it is read with no lock.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "assign_bytes.hpp"

namespace kvforge::detail {

/// A copy of table: every key with its payload. Tables are move-only (a copy costs
/// memory and time in proportion to the table, which callers should spend knowingly), so
/// this is the one way to copy one. The library's tables copy their arrays as blocks
/// (clone()); any other table is copied by inserting each of its keys into a new one.
template <class Table>
[[nodiscard]] Table copy_table(const Table& table) {
    if constexpr (requires {
                      { table.clone() } -> std::same_as<Table>;
                  }) {
        return table.clone();
    } else {
        Table copy;
        if constexpr (requires { copy.reserve(table.size()); }) copy.reserve(table.size());
        table.for_each([&](std::string_view key, std::string_view payload) {
            copy.upsert(key, payload, [](std::string_view) {});
        });
        return copy;
    }
}

/// A memory store's snapshot: its own copy of the store's table, read with the calls a
/// store backend answers reads with.
template <class Table>
class table_snapshot {
public:
    /// A snapshot takes no writes, so it hands out no sequence numbers.
    static constexpr bool sequenced = false;

    table_snapshot() = default;
    explicit table_snapshot(Table table) noexcept : table_(std::move(table)) {}

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const auto value = table_.find(key);
        if (!value) return false;
        on_value(*value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(
            key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const { return table_.find(key).has_value(); }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        table_.visit_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        table_.visit_down_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        table_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
    /// A snapshot never changes, so a scan over it never reads a chunk again.
    [[nodiscard]] static constexpr std::uint64_t write_version() noexcept { return 0; }

private:
    Table table_;
};

}  // namespace kvforge::detail
