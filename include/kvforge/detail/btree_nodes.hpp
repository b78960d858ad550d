#pragma once
/// \file btree_nodes.hpp
/// The nodes of btree_table (detail/btree.hpp): their layout, the key prefixes and
/// separators they cache, and their allocation, copy and release. Nothing here knows the
/// tree's records; btree_table builds on these as its private base.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "byte_order.hpp"
#include "record_arena.hpp"

namespace kvforge::detail {

struct btree_nodes {
    using ref = record_arena::ref;

    // 63 entries make a leaf exactly sixteen cache lines (a 16-byte header and two arrays
    // of 63 words). Measured against 31, the larger leaves insert, find and scan 10-30%
    // faster: the tree is a level shorter and splits half as often.
    static constexpr std::uint32_t leaf_capacity = 63;
    static constexpr std::uint32_t inner_capacity = 64;  // children
    static constexpr std::uint32_t leaf_min = leaf_capacity / 4;
    static constexpr std::uint32_t inner_min = inner_capacity / 4;
    // Non-root inner nodes keep at least inner_min children, so 32 levels are never reached.
    static constexpr std::uint32_t max_height = 32;
    // A leaf re-reads its keys to skip more of them only when that gains this many bytes.
    static constexpr std::size_t skip_step = 4;

    struct node_base {
        std::uint32_t count;  // entries in a leaf, children in an inner node
    };

    struct alignas(64) leaf_node : node_base {
        std::uint32_t skip;  // bytes every key here shares, not cached in prefixes
        leaf_node* next;     // right neighbour, for ordered visits
        std::array<std::uint64_t, leaf_capacity> prefixes;
        std::array<ref, leaf_capacity> refs;
    };

    // Child i holds the keys k with separators[i - 1] <= k < separators[i].
    struct alignas(64) inner_node : node_base {
        std::uint32_t skip;  // bytes every separator and key below shares, not cached in prefixes
        std::array<std::uint64_t, inner_capacity - 1> prefixes;  // of separators
        std::array<ref, inner_capacity - 1> separators;          // into separators_
        std::array<node_base*, inner_capacity> children;
    };

    // One level of a root-to-leaf path: the inner node and the child taken.
    struct step {
        inner_node* node;
        std::uint32_t index;
    };

    struct leaf_position {
        std::uint32_t index;  // of the first entry not less than the key
        bool found;
    };

    // The range [lo, hi) of keys a node may hold; an absent end is unbounded.
    struct fences {
        std::optional<std::string_view> lo;
        std::optional<std::string_view> hi;
    };

    // The cached prefix of key from byte skip on. Also safe for an empty key whose data() is null.
    [[nodiscard]] static std::uint64_t prefix_at(std::string_view key, std::size_t skip) noexcept {
        return key.size() > skip ? load_prefix_be(key.data() + skip, key.size() - skip) : 0;
    }

    // The length of the longest common prefix of a and b.
    [[nodiscard]] static std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
        const std::size_t n = std::min(a.size(), b.size());
        std::size_t i = 0;
        while (i < n && a[i] == b[i]) ++i;
        return i;
    }

    // Bytes that every key in [f.lo, f.hi) begins with.
    [[nodiscard]] static std::size_t shared_bytes(const fences& f) noexcept {
        return f.lo && f.hi ? common_prefix(*f.lo, *f.hi) : 0;
    }

    // The shortest key s with left < s <= right.
    [[nodiscard]] static std::string_view shortest_separator(std::string_view left, std::string_view right) noexcept {
        return right.substr(0, common_prefix(left, right) + 1);
    }

    // The index of the first of the n values that is not less than v.
    [[nodiscard]] static std::uint32_t lower_bound(const std::uint64_t* values, std::uint32_t n,
                                                   std::uint64_t v) noexcept {
        if (n == 0) return 0;
        const std::uint64_t* base = values;
        // Halving without an early exit lets the compiler use conditional moves.
        while (n > 1) {
            const std::uint32_t half = n / 2;
            base = base[half] < v ? base + half : base;
            n -= half;
        }
        return static_cast<std::uint32_t>(base - values) + (*base < v ? 1 : 0);
    }

    // The end of the run of values equal to values[begin].
    [[nodiscard]] static std::uint32_t tie_end(const std::uint64_t* values, std::uint32_t begin,
                                               std::uint32_t n) noexcept {
        std::uint32_t end = begin + 1;
        while (end < n && values[end] == values[begin]) ++end;
        return end;
    }

    // Nodes are allocated uninitialised; their creators set every field that is read.
    [[nodiscard]] static std::unique_ptr<leaf_node> make_leaf() { return std::unique_ptr<leaf_node>(new leaf_node); }

    [[nodiscard]] static std::unique_ptr<inner_node> make_inner() {
        return std::unique_ptr<inner_node>(new inner_node);
    }

    // Calls update(ref&) on the separators of every inner node in the subtree of node,
    // which stands `levels` levels above the leaves.
    template <class Update>
    static void visit_separators(node_base* node, std::uint32_t levels, Update& update) {
        if (levels == 0) return;
        auto* inner = static_cast<inner_node*>(node);
        for (std::uint32_t i = 0; i + 1 < inner->count; ++i) update(inner->separators[i]);
        for (std::uint32_t i = 0; i < inner->count; ++i) visit_separators(inner->children[i], levels - 1, update);
    }

    // A copy of node alone, which stands `levels` levels above the leaves: a leaf with its
    // entries, appended to the chain of leaves ending at last_leaf; an inner node with its
    // separators but no children yet (count 0, so that destroy() frees no original node
    // should a later allocation throw; fill_children() adds them).
    static node_base* copy_node(const node_base* node, std::uint32_t levels, leaf_node*& last_leaf) {
        if (levels == 0) {
            auto* leaf = new leaf_node(*static_cast<const leaf_node*>(node));
            leaf->next = nullptr;
            if (last_leaf != nullptr) last_leaf->next = leaf;
            last_leaf = leaf;
            return leaf;
        }
        auto* inner = new inner_node(*static_cast<const inner_node*>(node));
        inner->count = 0;
        return inner;
    }

    // Gives copy, the copy_node() of original, copies of original's subtrees, left to right
    // so that the leaves chain in order. Each child counts once attached, so destroy()
    // frees exactly the nodes made.
    static void fill_children(node_base* copy, const node_base* original, std::uint32_t levels, leaf_node*& last_leaf) {
        if (levels == 0) return;
        auto* inner = static_cast<inner_node*>(copy);
        const auto* from = static_cast<const inner_node*>(original);
        for (std::uint32_t i = 0; i < from->count; ++i) {
            inner->children[i] = copy_node(from->children[i], levels - 1, last_leaf);
            inner->count = i + 1;
            fill_children(inner->children[i], from->children[i], levels - 1, last_leaf);
        }
    }

    // Frees the subtree of node, which stands `levels` levels above the leaves.
    static void destroy(node_base* node, std::uint32_t levels) noexcept {
        if (levels == 0) {
            delete static_cast<leaf_node*>(node);
            return;
        }
        auto* inner = static_cast<inner_node*>(node);
        for (std::uint32_t i = 0; i < inner->count; ++i) destroy(inner->children[i], levels - 1);
        delete inner;
    }
};

}  // namespace kvforge::detail
