#pragma once
/// \file record_arena.hpp
/// The byte arena in which the in-memory indexes keep their (key, payload) records.
///
/// Records are packed one after another (varint key length, varint payload length,
/// key bytes, payload bytes) in chunks that never move, so a record costs its bytes
/// plus two or three, and the indexes point at records with 40-bit references that
/// fit beside a hash tag in one 64-bit slot. Replaced and erased records become
/// garbage; the owning index calls compact() once garbage outweighs live data, which
/// keeps memory within twice the live bytes at an amortised O(1) cost per write.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "byte_order.hpp"
#include "force_inline.hpp"
#include "huge_pages.hpp"

namespace kvforge::detail {

/// A key and its payload as stored in the arena.
struct record_view {
    std::string_view key;
    std::string_view payload;
};

/// Append-only storage of (key, payload) records addressed by 40-bit references.
class record_arena {
public:
    /// A record's address: chunk index in the high bits, offset in the chunk in the low ones.
    using ref = std::uint64_t;
    static constexpr unsigned ref_bits = 40;

    record_arena() = default;
    record_arena(record_arena&& other) noexcept
        : chunks_(std::move(other.chunks_)),
          used_bytes_(std::exchange(other.used_bytes_, 0)),
          garbage_bytes_(std::exchange(other.garbage_bytes_, 0)),
          allocated_bytes_(std::exchange(other.allocated_bytes_, 0)) {
        other.chunks_.clear();
    }
    record_arena& operator=(record_arena&& other) noexcept {
        record_arena moved(std::move(other));
        std::swap(chunks_, moved.chunks_);
        std::swap(used_bytes_, moved.used_bytes_);
        std::swap(garbage_bytes_, moved.garbage_bytes_);
        std::swap(allocated_bytes_, moved.allocated_bytes_);
        return *this;
    }

    /// A copy of the arena that holds every record at the reference it has here, so an
    /// index copied word for word stays valid over it. Each chunk is copied as one block
    /// of its used bytes (garbage included, so the counters stay true) into a chunk just
    /// that large: a copy's memory is its contents, and it grows again as an arena does.
    [[nodiscard]] record_arena clone() const {
        record_arena copy;
        copy.chunks_.reserve(chunks_.size());
        for (const chunk& c : chunks_) {
            copy.chunks_.push_back({make_huge_page_buffer(c.used), c.used, c.used});
            if (c.used != 0) std::memcpy(copy.chunks_.back().data.get(), c.data.get(), c.used);
            copy.allocated_bytes_ += c.used;
        }
        copy.used_bytes_ = used_bytes_;
        copy.garbage_bytes_ = garbage_bytes_;
        return copy;
    }

    /// Copies a record in and returns its address.
    ref append(std::string_view key, std::string_view payload) {
        const std::size_t size = record_size(key.size(), payload.size());
        chunk& target = chunk_with_room(size);
        char* out = target.data.get() + target.used;
        const ref r = (static_cast<ref>(chunks_.size() - 1) << offset_bits) | target.used;
        out = put_varint(out, key.size());
        out = put_varint(out, payload.size());
        if (!key.empty()) std::memcpy(out, key.data(), key.size());
        if (!payload.empty()) std::memcpy(out + key.size(), payload.data(), payload.size());
        target.used += size;
        used_bytes_ += size;
        return r;
    }

    /// The record at r, which must be a live reference returned by append().
    [[nodiscard]] KVFORGE_FORCE_INLINE record_view view(ref r) const noexcept {
        const char* p = address(r);
        // Both lengths below 128, the usual case, take one byte each: no decoding loop.
        const auto key_byte = static_cast<unsigned char>(p[0]);
        const auto payload_byte = static_cast<unsigned char>(p[1]);
        if (((key_byte | payload_byte) & 0x80) == 0) return {{p + 2, key_byte}, {p + 2 + key_byte, payload_byte}};
        std::uint64_t key_size = 0;
        std::uint64_t payload_size = 0;
        // Lengths were written by append(), so decoding cannot fail; no end bound is needed.
        p = get_varint(p, p + max_varint_size, key_size);
        p = get_varint(p, p + max_varint_size, payload_size);
        return {{p, key_size}, {p + key_size, payload_size}};
    }

    /// Asks the processor to start loading the record at r into the cache: its first two
    /// lines, which hold a short key and the start of its payload.
    KVFORGE_FORCE_INLINE void prefetch(ref r) const noexcept {
        __builtin_prefetch(address(r));
        __builtin_prefetch(address(r) + 64);
    }

    /// Replaces the payload in place when the new one has the same size; returns whether it did.
    bool overwrite_payload(ref r, std::string_view payload) noexcept {
        const record_view old = view(r);
        if (old.payload.size() != payload.size()) return false;
        // memmove: the new payload may be a view of the old one.
        if (!payload.empty()) std::memmove(const_cast<char*>(old.payload.data()), payload.data(), payload.size());
        return true;
    }

    /// Marks the record at r as garbage; its bytes are reclaimed by the next compact().
    void release(ref r) noexcept {
        const record_view v = view(r);
        garbage_bytes_ += record_size(v.key.size(), v.payload.size());
    }

    /// True when garbage exceeds live data and is large enough to be worth a pass.
    [[nodiscard]] bool wants_compaction() const noexcept {
        constexpr std::size_t min_garbage = std::size_t{1} << 16;
        return garbage_bytes_ > min_garbage && garbage_bytes_ > live_bytes();
    }

    /// Moves every live record into fresh chunks and drops the old ones.
    /// for_each_ref(visit) must call visit(ref&) once for every live reference the index
    /// holds, in the same order each time it is called; it is called twice. The first
    /// pass copies the records, the second rewrites the references and cannot throw,
    /// so running out of memory while copying leaves the index as it was.
    template <class ForEachRef>
    void compact(ForEachRef&& for_each_ref) {
        record_arena fresh;
        fresh.reserve_first_chunk(live_bytes());
        std::vector<ref> moved;
        for_each_ref([&](ref& r) {
            const record_view v = view(r);
            moved.push_back(fresh.append(v.key, v.payload));
        });
        std::size_t next = 0;
        for_each_ref([&](ref& r) noexcept { r = moved[next++]; });
        *this = std::move(fresh);
    }

    /// Drops every record.
    void clear() noexcept { *this = record_arena{}; }

    /// Bytes of records that are still referenced.
    [[nodiscard]] std::size_t live_bytes() const noexcept { return used_bytes_ - garbage_bytes_; }
    /// Bytes of replaced or erased records not yet reclaimed.
    [[nodiscard]] std::size_t garbage_bytes() const noexcept { return garbage_bytes_; }
    /// Bytes of memory held by the chunks.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return allocated_bytes_; }

private:
    static constexpr unsigned offset_bits = 22;
    static constexpr std::size_t max_chunk_size = std::size_t{1} << offset_bits;  // 4 MiB
    static constexpr std::size_t first_chunk_size = std::size_t{1} << 12;
    static constexpr std::size_t max_chunks = std::size_t{1} << (ref_bits - offset_bits);

    struct chunk {
        // On huge pages from 2 MiB: filling a chunk (a store's load) takes fewer page
        // faults, and reading its records fewer TLB misses.
        huge_page_array<char> data;
        std::size_t capacity = 0;
        std::size_t used = 0;
    };

    [[nodiscard]] static std::size_t record_size(std::size_t key_size, std::size_t payload_size) noexcept {
        return varint_size(key_size) + varint_size(payload_size) + key_size + payload_size;
    }

    [[nodiscard]] KVFORGE_FORCE_INLINE const char* address(ref r) const noexcept {
        return chunks_[r >> offset_bits].data.get() + (r & (max_chunk_size - 1));
    }

    void reserve_first_chunk(std::size_t bytes) {
        if (bytes > 0) add_chunk(bytes < max_chunk_size ? bytes : max_chunk_size);
    }

    chunk& chunk_with_room(std::size_t size) {
        if (!chunks_.empty() && chunks_.back().capacity - chunks_.back().used >= size) return chunks_.back();
        // Each new chunk is an eighth of the arena (from 4 KiB to 4 MiB), so at most about
        // an eighth of its memory waits unused at its end, and an arena just compacted
        // into one chunk grows by an eighth, not by a doubling: a bounded cache keeps the
        // room for that step free. A record larger than a chunk gets one of its own,
        // addressed at offset 0.
        std::size_t capacity = std::clamp(allocated_bytes_ / 8, first_chunk_size, max_chunk_size);
        if (capacity < size) capacity = size;
        return add_chunk(capacity);
    }

    chunk& add_chunk(std::size_t capacity) {
        if (chunks_.size() >= max_chunks) throw std::length_error("kvforge: in-memory index arena is full");
        chunks_.push_back({make_huge_page_buffer(capacity), capacity, 0});
        allocated_bytes_ += capacity;
        return chunks_.back();
    }

    std::vector<chunk> chunks_;
    std::size_t used_bytes_ = 0;
    std::size_t garbage_bytes_ = 0;
    std::size_t allocated_bytes_ = 0;
};

}  // namespace kvforge::detail
