#pragma once
/// \file btree_visits.hpp
/// btree_table's ordered walks: ascending and descending visits from a key, the walk that
/// gives records new payloads in key order, and the cursors that run ahead of each,
/// prefetching the records the visitor will read.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "btree.hpp"

namespace kvforge::detail {

// A place in an ascending visit: entry index of leaf, or past the end when leaf is null.
struct btree_table::ascending_cursor {
    const leaf_node* leaf = nullptr;
    std::uint32_t index = 0;

    ascending_cursor(const leaf_node* at, std::uint32_t i) noexcept : leaf(at), index(i) {
        if (index == leaf->count) step_leaf();
    }
    [[nodiscard]] bool valid() const noexcept { return leaf != nullptr; }
    [[nodiscard]] ref current() const noexcept { return leaf->refs[index]; }
    void next(const btree_table& /*table*/) noexcept {
        if (++index == leaf->count) step_leaf();
    }

private:
    void step_leaf() noexcept {
        leaf = leaf->next;
        index = 0;
    }
};

// A place in a descending visit: entry end - 1 of leaf, with the path from the root
// that finds the leaf before it; past the end when leaf is null.
struct btree_table::descending_cursor {
    std::array<step, max_height> path;
    const leaf_node* leaf = nullptr;
    std::uint32_t end = 0;

    [[nodiscard]] bool valid() const noexcept { return leaf != nullptr; }
    [[nodiscard]] ref current() const noexcept { return leaf->refs[end - 1]; }
    void next(const btree_table& table) noexcept {
        --end;
        settle(table);
    }
    // Moves on to the leaves on the left while this one has no entry left.
    void settle(const btree_table& table) noexcept {
        while (leaf != nullptr && end == 0) {
            leaf = table.previous_leaf(path.data());
            if (leaf != nullptr) end = leaf->count;
        }
    }
};

// Calls f(key, payload) for the records from start on, in the cursor's order, until
// f returns false; with ahead() and the arena's prefetch running ahead of it.
template <class Cursor, class F, class Ahead>
void btree_table::visit_ahead(const Cursor& start, F& f, Ahead& ahead) const {
    Cursor far = start;   // its arena entry is prefetched
    Cursor near = start;  // ahead() is called for it
    for (std::uint32_t n = 0; n < 2 * visit_distance && far.valid(); ++n, far.next(*this)) {
        records_.prefetch(far.current());
    }
    for (std::uint32_t n = 0; n < visit_distance && near.valid(); ++n, near.next(*this)) {
        const record_view r = records_.view(near.current());
        ahead(r.key, r.payload);
    }
    for (Cursor at = start; at.valid(); at.next(*this)) {
        if (far.valid()) {
            records_.prefetch(far.current());
            far.next(*this);
        }
        if (near.valid()) {
            const record_view r = records_.view(near.current());
            ahead(r.key, r.payload);
            near.next(*this);
        }
        const record_view r = records_.view(at.current());
        if (!f(r.key, r.payload)) return;
    }
}

template <class F, class Ahead>
void btree_table::visit_from(std::string_view from, bool inclusive, F&& f, Ahead&& ahead) const {
    if (root_ == nullptr) return;
    const leaf_node* leaf = descend(from, nullptr);
    const leaf_position at = locate(*leaf, from);
    visit_ahead(ascending_cursor(leaf, at.found && !inclusive ? at.index + 1 : at.index), f, ahead);
}

template <class F, class Ahead>
void btree_table::visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f, Ahead&& ahead) const {
    if (root_ == nullptr) return;
    // Leaves link only to their right neighbour; the path from the root finds the left one.
    descending_cursor start;
    if (from) {
        start.leaf = descend(*from, start.path.data());
        const leaf_position at = locate(*start.leaf, *from);
        start.end = at.found && inclusive ? at.index + 1 : at.index;
    } else {
        start.leaf = rightmost_leaf(start.path.data());
        start.end = start.leaf->count;
    }
    start.settle(*this);
    visit_ahead(start, f, ahead);
}

template <class F>
void btree_table::update_from(std::string_view from, bool inclusive, F&& f) {
    if (root_ == nullptr) return;
    leaf_node* leaf = descend(from, nullptr);
    const leaf_position at = locate(*leaf, from);
    std::uint32_t index = at.found && !inclusive ? at.index + 1 : at.index;
    ascending_cursor far(leaf, index);  // its arena entry is prefetched
    for (std::uint32_t n = 0; n < 2 * visit_distance && far.valid(); ++n, far.next(*this)) {
        records_.prefetch(far.current());
    }
    for (bool going = true; going && leaf != nullptr; leaf = leaf->next, index = 0) {
        for (; going && index < leaf->count; ++index) {
            if (far.valid()) {
                records_.prefetch(far.current());
                far.next(*this);
            }
            ref& r = leaf->refs[index];
            const record_view record = records_.view(r);
            const auto replace = [&](std::string_view payload) {
                if (records_.overwrite_payload(r, payload)) return;
                const ref fresh = records_.append(record.key, payload);  // may throw; nothing has changed yet
                records_.release(r);
                r = fresh;
            };
            going = f(record.key, record.payload, replace);
        }
    }
    compact_if_worthwhile();
}

}  // namespace kvforge::detail
