#pragma once
/// \file table_builder.hpp
/// Writes a sorted table file (table_format.hpp) from entries given in increasing key
/// order. Blocks go to the file as they fill, so the builder holds one block, the index
/// and the filter's hashes (8 bytes a key), never the table.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../../detail/byte_order.hpp"
#include "../../error.hpp"
#include "../log/record_format.hpp"
#include "bloom_filter.hpp"
#include "table_block.hpp"
#include "table_format.hpp"
#include "table_placement.hpp"

namespace kvforge::detail {

/// How a table is cut into blocks and how large its filter is.
struct table_layout {
    /// Entries go into a block until it holds at least this many bytes, before compression.
    std::size_t block_size = 4096;
    /// Bits of Bloom filter per key; 10 gives about 0.8% false positives. 0 writes no
    /// filter bits, so every key passes (a filter of 64 bits with one probe would not).
    unsigned bloom_bits_per_key = 10;
};

/// Builds one table through Sink, which writes as data_file does:
/// bool write(std::uint64_t offset, std::string_view bytes, std::error_code& ec).
template <class Codec, class Sink>
class table_builder {
public:
    /// Starts a table whose file begins with header (its kind is set to table) and whose
    /// meta block records placement.
    table_builder(const Codec& codec, Sink& sink, file_header header, table_layout layout,
                  table_placement placement = {})
        : codec_(codec),
          sink_(sink),
          layout_(layout),
          placement_(std::move(placement)),
          filter_(layout.bloom_bits_per_key) {
        header.kind = file_kind::table;
        header.version = format_version;
        pending_.resize(file_header::size);
        header.encode(pending_.data());
    }

    /// Adds an entry whose key is greater than the last one's; false with ec set when the
    /// order is broken (errc::invalid_argument) or a write failed.
    bool add(const table_entry& entry, std::error_code& ec) {
        ec.clear();
        if (entries_ > 0 && entry.key <= last_key_) {
            fail(ec, errc::invalid_argument,
                 "a sorted table takes its keys in increasing order; a key of " + std::to_string(entry.key.size()) +
                     " bytes came after one not less than it");
            return false;
        }
        if (block_.empty()) block_first_key_.assign(entry.key);
        block_.add(entry);
        if (layout_.bloom_bits_per_key > 0) filter_.add(entry.key);
        last_key_.assign(entry.key);
        ++entries_;
        if (entry.kind == record_type::erase) ++erases_;
        if (block_.size() >= layout_.block_size) return end_block(ec);
        return true;
    }

    /// Writes the rest: the last data block, the filter, the index, the meta block and the
    /// footer. The caller syncs the file.
    bool finish(std::error_code& ec) {
        ec.clear();
        if (!block_.empty() && !end_block(ec)) return false;
        table_footer footer;
        std::string bytes;
        if (layout_.bloom_bits_per_key > 0) filter_.finish(bytes);
        if (!seal(bytes, footer.filter, ec)) return false;
        if (!seal(index_.finish(), footer.index, ec)) return false;
        bytes.clear();
        char meta[3 * max_varint_size];
        char* p = put_varint(meta, entries_);
        p = put_varint(p, erases_);
        p = put_varint(p, last_key_.size());
        bytes.append(meta, static_cast<std::size_t>(p - meta)).append(last_key_);
        placement_.append_to(bytes);
        if (!seal(bytes, footer.meta, ec)) return false;
        const std::size_t start = pending_.size();
        pending_.resize(start + table_footer::size);
        footer.encode(pending_.data() + start);
        return write_pending(ec);
    }

    [[nodiscard]] std::uint64_t entries() const noexcept { return entries_; }
    /// The file's size so far: all of it after finish().
    [[nodiscard]] std::uint64_t file_size() const noexcept { return written_ + pending_.size(); }

private:
    /// Bytes gathered before a write, so that small blocks do not cost a system call each.
    static constexpr std::size_t write_chunk = 256 * 1024;

    bool end_block(std::error_code& ec) {
        block_handle handle;
        if (!seal(block_.finish(), handle, ec)) return false;
        char value[2 * max_varint_size];
        char* p = put_varint(value, handle.offset);
        p = put_varint(p, handle.size);
        table_entry index_entry;
        index_entry.key = block_first_key_;
        index_entry.value = std::string_view(value, static_cast<std::size_t>(p - value));
        index_.add(index_entry);
        block_.reset();
        return pending_.size() < write_chunk || write_pending(ec);
    }

    bool seal(std::string_view block, block_handle& handle, std::error_code& ec) {
        handle = seal_block(codec_, block, file_size(), pending_, scratch_, ec);
        return !ec;
    }

    bool write_pending(std::error_code& ec) {
        if (!sink_.write(written_, pending_, ec)) return false;
        written_ += pending_.size();
        pending_.clear();
        return true;
    }

    const Codec& codec_;
    Sink& sink_;
    table_layout layout_;
    table_placement placement_;
    block_builder block_;
    block_builder index_;
    bloom_filter_builder filter_;
    std::string block_first_key_;
    std::string last_key_;
    std::string pending_;  ///< sealed bytes not yet written, from offset written_
    std::string scratch_;  ///< a block's compressed bytes
    std::uint64_t written_ = 0;
    std::uint64_t entries_ = 0;
    std::uint64_t erases_ = 0;
};

}  // namespace kvforge::detail
