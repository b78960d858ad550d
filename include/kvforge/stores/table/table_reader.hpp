#pragma once
/// \file table_reader.hpp
/// Reads a sorted table file (table_format.hpp): opens it by its footer, keeps its block
/// index and Bloom filter in memory (about 2.3 bytes a key at 10 filter bits and 4 KiB
/// blocks of 100-byte values), and reads one block per lookup. A cursor walks its entries
/// in both directions. Every block is checked against its checksum before it is used, so
/// a damaged block is an error naming the file and offset, never an entry served. With a
/// block cache, a lookup takes its block from the cache when it holds it and leaves the
/// block there after reading it (unless told not to: a write's lookup of the version it
/// hides); a scan takes blocks from the cache but leaves none, so that one scan does not
/// push out the blocks that lookups keep hot.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/byte_order.hpp"
#include "../../error.hpp"
#include "../../stats.hpp"
#include "../log/record_format.hpp"
#include "block_cache.hpp"
#include "bloom_filter.hpp"
#include "table_block.hpp"
#include "table_format.hpp"
#include "table_placement.hpp"

namespace kvforge::detail {

/// Whether a lookup leaves the data block it read from a file in the block cache. A get
/// does: its block may be read again. A write's lookup of the version it hides does not:
/// the key's newest version is then in the write buffer, so the block would only push out
/// blocks that gets keep hot (at 10,000,000 keys a load's lookups kept the cache full).
enum class cache_fill : bool { no, yes };

/// Bytes read from a file. A resize neither fills nor copies them, as std::string's does,
/// since each read overwrites all of them: a scan reads ahead in steps of up to 256 KiB
/// into a new buffer for each table, and filling those took a twentieth of its time.
class read_bytes {
public:
    /// Holds size bytes, their contents unspecified until a read writes them.
    void resize_for_overwrite(std::size_t size) {
        if (size > capacity_) {
            bytes_ = std::make_unique_for_overwrite<char[]>(size);
            capacity_ = size;
        }
        size_ = size;
    }
    void clear() noexcept { size_ = 0; }
    [[nodiscard]] char* data() noexcept { return bytes_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::string_view view() const noexcept { return {bytes_.get(), size_}; }

private:
    std::unique_ptr<char[]> bytes_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

/// What one read of a block needs beside the table: its sealed bytes, its decompressed
/// bytes and a cursor over them. A thread keeps its own; entries found stay valid in it
/// until its next use.
struct table_read_buffers {
    read_bytes sealed;
    std::string block;
    /// The block the cursor is over when it is shared with the block cache (and block is
    /// then unused); whoever holds a reference keeps it alive.
    shared_block shared;
    block_cursor cursor;
    /// A cursor's read-ahead (0: none, as a lookup's): blocks read one after another are
    /// read in growing steps of up to read_ahead bytes into sealed, which then holds the
    /// file's bytes from ahead_offset, so that a scan makes one read call for many blocks.
    std::size_t read_ahead = 0;
    std::uint64_t ahead_offset = 0;
};

/// An open table, read through Source, which reads as data_file does:
/// bool read(std::uint64_t offset, char* into, std::size_t size, std::error_code& ec) const.
/// Its const calls may run on many threads at once, each with its own buffers.
template <class Codec, class Source>
class table_reader {
public:
    /// Opens the table of file_size bytes that source reads; path names it in errors.
    bool open(const Codec& codec, const Source& source, std::uint64_t file_size, std::string path,
              std::error_code& ec) {
        ec.clear();
        codec_ = &codec;
        source_ = &source;
        path_ = std::move(path);
        if (file_size < file_header::size + table_footer::size) return damaged(errc::corrupt_header, "is too short", ec);
        char head[file_header::size];
        if (!source.read(0, head, sizeof head, ec)) return false;
        switch (file_header::decode({head, sizeof head}, file_kind::table, header_)) {
            case file_header::problem::none: break;
            case file_header::problem::bad_magic: return damaged(errc::not_a_store, "is not a kvforge table", ec);
            case file_header::problem::newer_version:
                return damaged(errc::unsupported_version, "was written by a newer format version", ec);
            default: return damaged(errc::corrupt_header, "has a damaged header", ec);
        }
        char tail[table_footer::size];
        if (!source.read(file_size - table_footer::size, tail, sizeof tail, ec)) return false;
        table_footer footer;
        switch (table_footer::decode({tail, sizeof tail}, file_size, footer)) {
            case table_footer::problem::none: break;
            case table_footer::problem::newer_version:
                return damaged(errc::unsupported_version, "has a table footer of a newer format version", ec);
            case table_footer::problem::bad_magic: return damaged(errc::corrupt_header, "has no table footer", ec);
            default: return damaged(errc::corrupt_header, "has a damaged table footer", ec);
        }
        table_read_buffers buffers;
        std::string_view bytes;
        if (!read_block(footer.filter, buffers, bytes, ec)) return false;
        if (!bytes.empty() && !filter_.assign(bytes)) {
            return damaged(errc::corrupt_record, "has a Bloom filter that cannot be read", ec);
        }
        meta_ = footer.meta;
        version_ = footer.version;
        if (!read_block(footer.meta, buffers, bytes, ec) || !parse_meta(bytes, ec)) return false;
        if (!read_block(footer.index, buffers, bytes, ec) || !parse_index(bytes, ec)) return false;
        return true;
    }

    /// Reads where the table belongs in its store (kept on disk, not in memory: a merge of
    /// the whole store names every table it replaced): true with out set, or false with ec
    /// clear for a table of format 1, which does not record it, or set when the meta block
    /// cannot be read.
    bool read_placement(table_placement& out, std::error_code& ec) const {
        ec.clear();
        if (version_ < 2) return false;
        table_read_buffers buffers;
        std::string_view bytes;
        std::string_view last_key;
        std::uint64_t entries = 0;
        std::uint64_t erases = 0;
        if (!read_block(meta_, buffers, bytes, ec)) return false;
        if (split_meta(bytes, version_, entries, erases, last_key, &out)) return true;
        return damaged(errc::corrupt_record, "has a meta block that cannot be read", ec);
    }

    /// Reads data blocks through cache from now on (nullptr for none); the cache must
    /// outlive the reader's use.
    void use_cache(block_cache* cache) noexcept { cache_ = cache; }
    /// The table's identity in the block cache: no other file of a store has both.
    [[nodiscard]] std::uint64_t cache_identity() const noexcept {
        return std::uint64_t{header_.generation} << 32 | header_.file_id;
    }

    [[nodiscard]] const file_header& header() const noexcept { return header_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// The file the table is read from.
    [[nodiscard]] const Source& source() const noexcept { return *source_; }
    [[nodiscard]] std::uint64_t entries() const noexcept { return entries_; }
    [[nodiscard]] std::uint64_t erases() const noexcept { return erases_; }
    [[nodiscard]] std::size_t blocks() const noexcept { return handles_.size(); }
    /// Where data block i lies in the file.
    [[nodiscard]] const block_handle& block_at(std::size_t i) const noexcept { return handles_[i]; }
    [[nodiscard]] std::string_view first_key() const noexcept { return handles_.empty() ? std::string_view{} : block_key(0); }
    [[nodiscard]] std::string_view last_key() const noexcept { return last_key_; }
    /// The bytes this reader holds in memory: index keys, block handles and filter.
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        return index_keys_.capacity() + index_key_ends_.capacity() * sizeof(std::uint32_t) +
               handles_.capacity() * sizeof(block_handle) + filter_.memory_bytes() + last_key_.capacity();
    }

    /// False when the table certainly holds no entry for key, whose bloom_hash() is hash:
    /// out of its range, or refused by its filter.
    [[nodiscard]] bool may_contain(std::string_view key, std::uint64_t hash) const noexcept {
        if (handles_.empty() || key < first_key() || key > last_key_) return false;
        return filter_.empty() || filter_.may_contain_hash(hash);
    }

    /// Looks key up: true with found set to its entry (a put or an erase, its views into
    /// buffers) when the table holds one; false with ec clear when it holds none, or with
    /// ec set when a block could not be read or is damaged.
    bool find(std::string_view key, table_read_buffers& buffers, table_entry& found, std::error_code& ec) const {
        return find(key, bloom_hash(key), cache_fill::yes, buffers, found, ec);
    }

    /// As find(key, ...), for a key whose bloom_hash() is hash (taken once for every table),
    /// leaving the block read in the cache or not as filling says.
    bool find(std::string_view key, std::uint64_t hash, cache_fill filling, table_read_buffers& buffers,
              table_entry& found, std::error_code& ec) const {
        ec.clear();
        if (!may_contain(key, hash)) return false;
        std::string_view block;
        if (!read_data_block(block_of(key), filling, buffers, block, ec) || !start_cursor(buffers, block, ec)) {
            return false;
        }
        if (!buffers.cursor.seek(key)) return cursor_failed(buffers, ec);
        if (buffers.cursor.entry().key != key) return false;
        found = buffers.cursor.entry();
        return true;
    }

    /// The index of the block that holds key if the table does: the last block whose first
    /// key is not greater than it (0 for a key before them all).
    [[nodiscard]] std::size_t block_of(std::string_view key) const noexcept {
        std::size_t low = 0;
        std::size_t high = handles_.size();
        while (low < high) {
            const std::size_t middle = low + (high - low) / 2;
            if (block_key(middle) <= key) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        return low == 0 ? 0 : low - 1;
    }

    /// Reads block i into buffers and puts their cursor before its first entry.
    bool load_block(std::size_t i, table_read_buffers& buffers, std::error_code& ec) const {
        std::string_view block;
        return read_data_block(i, cache_fill::no, buffers, block, ec) && start_cursor(buffers, block, ec);
    }

    /// The error for a cursor that stopped at bytes it could not decode; false when it
    /// stopped at the end of its block.
    bool cursor_failed(const table_read_buffers& buffers, std::error_code& ec) const {
        if (!buffers.cursor.damaged()) return false;
        return damaged(errc::corrupt_record, "has a table block whose entries do not decode", ec);
    }

private:
    [[nodiscard]] std::string_view block_key(std::size_t i) const noexcept {
        const std::uint32_t begin = i == 0 ? 0 : index_key_ends_[i - 1];
        return std::string_view(index_keys_).substr(begin, index_key_ends_[i] - begin);
    }

    bool read_data_block(std::size_t i, cache_fill filling, table_read_buffers& buffers, std::string_view& block,
                         std::error_code& ec) const {
        const block_handle& handle = handles_[i];
        buffers.shared = cache_ != nullptr ? cache_->read(cache_identity(), handle.offset) : nullptr;
        if (buffers.shared) {
            block = *buffers.shared;
            return true;
        }
        if (!read_block(handle, buffers, block, ec)) return false;
        if (cache_ != nullptr && filling == cache_fill::yes) {
            buffers.shared = std::make_shared<const std::string>(block);
            block = *buffers.shared;
            cache_->put(cache_identity(), handle.offset, buffers.shared);
        }
        return true;
    }

    bool read_block(const block_handle& handle, table_read_buffers& buffers, std::string_view& block,
                    std::error_code& ec) const {
        const std::uint64_t size = handle.size + block_trailer_size;
        if (buffers.read_ahead == 0) {
            buffers.sealed.resize_for_overwrite(size);
            if (!source_->read(handle.offset, buffers.sealed.data(), size, ec)) return false;
            block = unseal_block(*codec_, buffers.sealed.view(), buffers.block, path_, handle, ec);
            return !ec;
        }
        const std::uint64_t held_end = buffers.ahead_offset + buffers.sealed.size();
        if (handle.offset < buffers.ahead_offset || handle.offset + size > held_end) {
            // A read that goes on from the last one, forward or back, takes twice its bytes,
            // up to read_ahead; a first read takes 32 KiB, about a chunk of a store's scan
            // (256 entries of 100 bytes); never past the data blocks. So a scan soon reads
            // in large steps, and a short walk reads little more than it uses.
            const bool forward = !buffers.sealed.empty() && handle.offset == held_end;
            const bool backward = !buffers.sealed.empty() && handle.offset + size == buffers.ahead_offset;
            const std::uint64_t step = std::max<std::uint64_t>(
                size, std::min<std::uint64_t>(buffers.read_ahead, forward || backward ? 2 * buffers.sealed.size()
                                                                                       : std::uint64_t{32} << 10));
            const std::uint64_t data_begin = handles_.front().offset;
            const std::uint64_t data_end = handles_.back().offset + handles_.back().size + block_trailer_size;
            std::uint64_t begin = handle.offset;
            std::uint64_t end = std::max(handle.offset + size, std::min(data_end, handle.offset + step));
            if (backward) {
                end = handle.offset + size;
                begin = std::max(data_begin, end > step ? end - step : 0);
            }
            buffers.sealed.resize_for_overwrite(static_cast<std::size_t>(end - begin));
            buffers.ahead_offset = begin;
            if (!source_->read(begin, buffers.sealed.data(), buffers.sealed.size(), ec)) {
                buffers.sealed.clear();
                return false;
            }
        }
        const std::string_view sealed = buffers.sealed.view().substr(
            static_cast<std::size_t>(handle.offset - buffers.ahead_offset), static_cast<std::size_t>(size));
        block = unseal_block(*codec_, sealed, buffers.block, path_, handle, ec);
        return !ec;
    }

    bool start_cursor(table_read_buffers& buffers, std::string_view block, std::error_code& ec) const {
        if (buffers.cursor.parse(block)) return true;
        return damaged(errc::corrupt_record, "has a table block whose restart array does not fit it", ec);
    }

    bool parse_meta(std::string_view bytes, std::error_code& ec) {
        std::string_view last_key;
        if (!split_meta(bytes, version_, entries_, erases_, last_key, nullptr)) {
            return damaged(errc::corrupt_record, "has a meta block that cannot be read", ec);
        }
        last_key_.assign(last_key);
        return true;
    }

    /// Reads a meta block's counts and last key, and in format 2 the placement past them,
    /// into placement when it is not null; false when the bytes do not hold them.
    [[nodiscard]] static bool split_meta(std::string_view bytes, std::uint16_t version, std::uint64_t& entries,
                                         std::uint64_t& erases, std::string_view& last_key,
                                         table_placement* placement) {
        const char* p = bytes.data();
        const char* const end = p + bytes.size();
        std::uint64_t last_size = 0;
        if ((p = get_varint(p, end, entries)) == nullptr || (p = get_varint(p, end, erases)) == nullptr ||
            (p = get_varint(p, end, last_size)) == nullptr || last_size > static_cast<std::uint64_t>(end - p)) {
            return false;
        }
        last_key = std::string_view(p, static_cast<std::size_t>(last_size));
        p += last_size;
        if (version < 2) return p == end;
        table_placement ignored;
        return (placement ? *placement : ignored).parse(p, end);
    }

    bool parse_index(std::string_view bytes, std::error_code& ec) {
        block_cursor cursor;
        if (!cursor.parse(bytes)) return damaged(errc::corrupt_record, "has an index block that cannot be read", ec);
        for (bool more = cursor.seek_first(); more; more = cursor.next()) {
            const table_entry& entry = cursor.entry();
            block_handle handle;
            const char* p = entry.value.data();
            const char* const end = p + entry.value.size();
            if ((p = get_varint(p, end, handle.offset)) == nullptr || get_varint(p, end, handle.size) != end ||
                handle.offset < file_header::size) {
                return damaged(errc::corrupt_record, "has an index entry that cannot be read", ec);
            }
            index_keys_.append(entry.key);
            index_key_ends_.push_back(static_cast<std::uint32_t>(index_keys_.size()));
            handles_.push_back(handle);
        }
        if (cursor.damaged() || (handles_.empty() && entries_ > 0)) {
            return damaged(errc::corrupt_record, "has an index block that cannot be read", ec);
        }
        index_keys_.shrink_to_fit();
        return true;
    }

    bool damaged(errc code, const char* why, std::error_code& ec) const {
        fail(ec, code, path_ + " " + why);
        return false;
    }

    const Codec* codec_ = nullptr;
    const Source* source_ = nullptr;
    block_cache* cache_ = nullptr;
    std::string path_;
    file_header header_;
    std::string index_keys_;                  ///< the first key of each block, one after another
    std::vector<std::uint32_t> index_key_ends_;  ///< where each of them ends in index_keys_
    std::vector<block_handle> handles_;
    bloom_filter filter_;
    std::string last_key_;
    std::uint64_t entries_ = 0;
    std::uint64_t erases_ = 0;
    block_handle meta_;
    std::uint16_t version_ = table_format_version;
};

/// How far a table's cursor reads ahead, at most (table_read_buffers::read_ahead).
inline constexpr std::size_t table_read_ahead = std::size_t{256} << 10;

/// Walks a table's entries in key order, in both directions, one block in memory at a time.
/// Given a list of skipped blocks, a walk goes on past a damaged block to the next intact
/// one in its direction and adds the block to the list, as verify() and a salvage ask;
/// otherwise damage stops it with errc::corrupt_record.
template <class Codec, class Source>
class table_cursor {
public:
    /// Reads the table up to read_ahead bytes at a time (table_read_buffers).
    explicit table_cursor(const table_reader<Codec, Source>& table, std::size_t read_ahead = table_read_ahead,
                          std::vector<damaged_record>* skipped = nullptr) noexcept
        : table_(&table), skipped_(skipped) {
        buffers_.read_ahead = read_ahead;
    }

    /// Whether the cursor is at an entry; after a call returned false, ec tells an end from an error.
    [[nodiscard]] bool valid() const noexcept { return valid_; }
    /// The entry the cursor is at, valid until it moves.
    [[nodiscard]] const table_entry& entry() const noexcept { return buffers_.cursor.entry(); }

    bool seek_first(std::error_code& ec) { return enter_forward(0, ec); }

    bool seek_last(std::error_code& ec) { return enter_backward(table_->blocks() - 1, ec); }

    /// Moves to the first entry whose key is not less than key.
    bool seek(std::string_view key, std::error_code& ec) {
        const std::size_t block = table_->block_of(key);
        if (!enter(block, ec)) return skip(ec) && enter_forward(block + 1, ec);
        if (buffers_.cursor.seek(key)) return settle(true, ec);
        if (table_->cursor_failed(buffers_, ec) && !skip(ec)) return settle(false, ec);
        return enter_forward(block_ + 1, ec);
    }

    bool next(std::error_code& ec) {
        ec.clear();
        if (buffers_.cursor.next()) return settle(true, ec);
        if (table_->cursor_failed(buffers_, ec) && !skip(ec)) return settle(false, ec);
        return enter_forward(block_ + 1, ec);
    }

    bool prev(std::error_code& ec) {
        ec.clear();
        if (buffers_.cursor.prev()) return settle(true, ec);
        if (table_->cursor_failed(buffers_, ec) && !skip(ec)) return settle(false, ec);
        if (block_ == 0) {
            valid_ = false;  // the first entry passed; a damaged block 0 was skipped (ec cleared)
            return false;
        }
        return enter_backward(block_ - 1, ec);
    }

private:
    bool enter(std::size_t block, std::error_code& ec) {
        ec.clear();
        valid_ = false;
        if (block >= table_->blocks()) return false;
        block_ = block;
        return table_->load_block(block, buffers_, ec);
    }

    /// Moves to the first entry of block i, or, skipping damage, of the first intact block
    /// from i on.
    bool enter_forward(std::size_t block, std::error_code& ec) {
        for (;; ++block) {
            if (enter(block, ec) && settle(buffers_.cursor.seek_first(), ec)) return true;
            if (!ec || !skip(ec)) return false;
        }
    }

    /// Moves to the last entry of block i, or, skipping damage, of the last intact block
    /// from i down.
    bool enter_backward(std::size_t block, std::error_code& ec) {
        for (;; --block) {
            if (enter(block, ec) && settle(buffers_.cursor.seek_last(), ec)) return true;
            if (!ec || !skip(ec) || block == 0) return false;
        }
    }

    /// Adds the current block to the skipped ones, when there is a list and ec is damage
    /// (cleared then).
    bool skip(std::error_code& ec) {
        if (skipped_ == nullptr || ec != errc::corrupt_record) return false;
        skipped_->push_back({table_->path(), table_->block_at(block_).offset, last_error_detail()});
        ec.clear();
        return true;
    }

    /// Records where a move of the block's cursor left this one; a move that stopped at
    /// damage is an error.
    bool settle(bool moved, std::error_code& ec) {
        valid_ = moved;
        if (!moved) table_->cursor_failed(buffers_, ec);
        return moved;
    }

    const table_reader<Codec, Source>* table_;
    std::vector<damaged_record>* skipped_;
    table_read_buffers buffers_;
    std::size_t block_ = 0;
    bool valid_ = false;
};

}  // namespace kvforge::detail
