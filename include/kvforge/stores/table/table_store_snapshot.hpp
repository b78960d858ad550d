#pragma once
/// \file table_store_snapshot.hpp
/// A snapshot of a store over tables: a copy of its write buffer, its frozen buffer and
/// its list of tables by level, as of the call, read as the store reads them.
///
/// Tables are never written once made, so holding the list holds the snapshot's tables: a
/// table a compaction or clear() removes is unlinked but stays readable through its open
/// descriptor, and its space comes back when the last holder lets it go. The frozen
/// buffer is shared, never changed; the write buffer is copied, so taking a snapshot
/// costs time and memory in proportion to the writes since the last flush (at most
/// options::segment_bytes). The snapshot also holds the engine it came from, whose I/O
/// policy object, codec and block cache its tables read through, so that it reads on
/// after the store is closed or opened again. Reads take no lock.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "table_read_view.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

template <class Levels>
class table_store_snapshot {
public:
    /// A snapshot takes no writes, so it hands out no sequence numbers.
    static constexpr bool sequenced = false;

    /// An empty snapshot.
    table_store_snapshot() : buffer_(std::make_shared<const write_buffer>()) {}

    /// Takes the state of a store: buffer (a copy), frozen (shared, or null), levels and
    /// its number of live keys; engine keeps what the tables read through alive.
    table_store_snapshot(std::shared_ptr<const void> engine, std::shared_ptr<const write_buffer> buffer,
                         std::shared_ptr<const write_buffer> frozen, Levels levels, std::size_t size)
        : engine_(std::move(engine)),
          buffer_(std::move(buffer)),
          frozen_(std::move(frozen)),
          levels_(std::move(levels)),
          size_(size) {}

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        thread_local std::string value;  // each reader thread has its own
        if (!view().find(key, value, ec)) return false;
        on_value(std::string_view(value));
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        if (view().find(key, out, ec)) return true;
        out.clear();
        return false;
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        std::string ignored;
        return view().find(key, ignored, ec);
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        view().walk(from, inclusive, true, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        view().walk(from, inclusive, false, visitor, ec);
    }

    /// Calls visitor(key, value) for every record, in key order.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        view().walk(std::optional<std::string_view>(std::string_view{}), true, true,
                    [&](std::string_view key, std::string_view value) {
                        visitor(key, value);
                        return true;
                    },
                    ec);
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// A snapshot never changes, so a scan over it never reads a chunk again.
    [[nodiscard]] static constexpr std::uint64_t write_version() noexcept { return 0; }

private:
    [[nodiscard]] table_read_view<Levels> view() const noexcept { return {*buffer_, frozen_.get(), levels_}; }

    std::shared_ptr<const void> engine_;
    std::shared_ptr<const write_buffer> buffer_;
    std::shared_ptr<const write_buffer> frozen_;
    Levels levels_;
    std::size_t size_ = 0;
};

}  // namespace kvforge::detail
