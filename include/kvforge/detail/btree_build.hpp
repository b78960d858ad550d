#pragma once
/// \file btree_build.hpp
/// btree_table's bottom-up build from records in key order (assign_sorted), and the
/// leaves made ready for it on another thread (prepare_leaves): how a sorted index is
/// built at open from the hints, with no search and no split.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

#include "btree.hpp"

namespace kvforge::detail {

template <class Next>
void btree_table::assign_sorted(Next&& next, std::uint32_t leaf_entries) {
    leaf_entries = std::clamp(leaf_entries, leaf_min, leaf_capacity);
    std::vector<std::unique_ptr<leaf_node>> ready = std::move(spare_leaves_);  // those unused go at the end
    clear();
    std::vector<std::pair<node_base*, bool>> made;  // every node allocated, and whether it is a leaf
    try {
        const auto make = [&](bool leaf) -> node_base* {
            made.emplace_back(nullptr, leaf);
            std::unique_ptr<leaf_node> fresh_leaf;
            if (leaf && !ready.empty()) {
                fresh_leaf = std::move(ready.back());
                ready.pop_back();
            } else if (leaf) {
                fresh_leaf = make_leaf();
            }
            node_base* node = leaf ? static_cast<node_base*>(fresh_leaf.release()) : make_inner().release();
            made.back().first = node;
            return node;
        };
        const auto last_key = [&](const leaf_node& leaf) { return records_.view(leaf.refs[leaf.count - 1]).key; };
        // A leaf's fences are the separators either side of it on its level, so its
        // prefixes are set as soon as the separator after it is known, while its keys
        // are still in the cache.
        const auto set_leaf_prefixes = [&](leaf_node& l, const fences& f) {
            l.skip = static_cast<std::uint32_t>(shared_bytes(f));
            load_prefixes(l, 0, l.count);
        };
        // Level 0: leaves, chained, with the shortest separators between them.
        std::vector<node_base*> level;
        std::vector<ref> separators;  // separators[i] lies between level[i] and level[i + 1]
        leaf_node* leaf = nullptr;
        std::optional<std::string_view> lo;  // the separator before leaf
        std::string_view key;
        std::string_view payload;
        while (next(key, payload)) {
            if (leaf == nullptr || leaf->count == leaf_entries) {
                if (leaf != nullptr) {
                    separators.push_back(separators_.append(shortest_separator(last_key(*leaf), key), {}));
                    const std::string_view hi = separator_key(separators.back());
                    set_leaf_prefixes(*leaf, {lo, hi});
                    lo = hi;
                }
                auto* fresh = static_cast<leaf_node*>(make(true));
                fresh->count = 0;
                fresh->skip = 0;
                fresh->next = nullptr;
                if (leaf != nullptr) leaf->next = fresh;
                level.push_back(fresh);
                leaf = fresh;
            }
            leaf->refs[leaf->count++] = records_.append(key, payload);
            ++size_;
        }
        if (leaf == nullptr) return;
        if (leaf->count < leaf_min && level.size() > 1) {
            // The last leaf takes the back half of the full one before it.
            auto& before = *static_cast<leaf_node*>(level[level.size() - 2]);
            const std::uint32_t moved = (before.count - leaf->count) / 2;
            std::copy_backward(leaf->refs.begin(), leaf->refs.begin() + leaf->count,
                               leaf->refs.begin() + leaf->count + moved);
            std::copy(before.refs.begin() + before.count - moved, before.refs.begin() + before.count,
                      leaf->refs.begin());
            before.count -= moved;
            leaf->count += moved;
            const ref fresh =
                separators_.append(shortest_separator(last_key(before), records_.view(leaf->refs[0]).key), {});
            separators_.release(separators.back());
            separators.back() = fresh;
            lo = separator_key(fresh);
            set_leaf_prefixes(
                before,
                {separators.size() > 1 ? std::optional(separator_key(separators[separators.size() - 2])) : std::nullopt,
                 lo});
        }
        set_leaf_prefixes(*leaf, {lo, std::nullopt});
        // Inner levels, until one node is left: groups of inner_capacity children.
        std::uint32_t height = 0;
        while (level.size() > 1) {
            const std::size_t n = level.size();
            std::vector<std::size_t> ends;  // the end of each group of children
            for (std::size_t end = inner_capacity; end < n; end += inner_capacity) ends.push_back(end);
            ends.push_back(n);
            if (ends.size() > 1 && n - ends[ends.size() - 2] < inner_min) {
                const std::size_t begin = ends.size() > 2 ? ends[ends.size() - 3] : 0;
                ends[ends.size() - 2] = begin + (n - begin) / 2;
            }
            std::vector<node_base*> parents;
            std::vector<ref> up;
            std::size_t begin = 0;
            for (const std::size_t end : ends) {
                auto* inner = static_cast<inner_node*>(make(false));
                inner->count = static_cast<std::uint32_t>(end - begin);
                inner->skip = 0;
                std::copy(level.begin() + begin, level.begin() + end, inner->children.begin());
                std::copy(separators.begin() + begin, separators.begin() + end - 1, inner->separators.begin());
                if (end != n) up.push_back(separators[end - 1]);
                parents.push_back(inner);
                begin = end;
            }
            level = std::move(parents);
            separators = std::move(up);
            ++height;
        }
        // The inner nodes' prefixes from the root down: each node skips the bytes its
        // fences share.
        const auto set_prefixes = [&](const auto& self, node_base* node, std::uint32_t levels,
                                      const fences& f) -> void {
            auto& inner = *static_cast<inner_node*>(node);
            reload(inner, f);
            if (levels == 1) return;
            for (std::uint32_t i = 0; i < inner.count; ++i) {
                self(self, inner.children[i], levels - 1, child_fences(inner, f, i));
            }
        };
        if (height != 0) set_prefixes(set_prefixes, level.front(), height, fences{});
        root_ = level.front();
        height_ = height;
        for (const auto& [node, is_leaf] : made) ++(is_leaf ? leaf_count_ : inner_count_);
    } catch (...) {
        for (const auto& [node, is_leaf] : made) {
            if (is_leaf) {
                delete static_cast<leaf_node*>(node);
            } else {
                delete static_cast<inner_node*>(node);
            }
        }
        root_ = nullptr;
        clear();
        throw;
    }
}

inline void btree_table::prepare_leaves(std::size_t records, std::uint32_t leaf_entries,
                                        const std::stop_token& stop) noexcept {
    leaf_entries = std::clamp(leaf_entries, leaf_min, leaf_capacity);
    try {
        const std::size_t wanted = records / leaf_entries + 1;
        spare_leaves_.reserve(spare_leaves_.size() + wanted);
        for (std::size_t i = 0; i < wanted && !stop.stop_requested(); ++i) {
            std::unique_ptr<leaf_node> leaf = make_leaf();
            leaf->count = 0;  // a write, so that the page is mapped here
            // Taken from the back: the build then takes them in the order they were made.
            spare_leaves_.push_back(std::move(leaf));
        }
        std::reverse(spare_leaves_.begin(), spare_leaves_.end());
    } catch (const std::bad_alloc&) {
    }
}

}  // namespace kvforge::detail
