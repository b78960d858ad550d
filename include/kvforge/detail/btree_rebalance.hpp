#pragma once
/// \file btree_rebalance.hpp
/// btree_table's repair of a leaf an erase leaves underfull (below a quarter): merged into
/// a sibling, or refilled from it when the two do not fit into one leaf, then the same
/// for each inner node above that the merge left underfull, and the root dropped when it
/// is left with a single child.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include "btree.hpp"

namespace kvforge::detail {

inline auto btree_table::plan_rebalance(const step& at, std::uint32_t remaining) -> rebalance_plan {
    const inner_node& parent = *at.node;
    rebalance_plan plan;
    // Every inner node has at least two children, so a sibling exists.
    plan.sibling_index = at.index + 1 < parent.count ? at.index + 1 : at.index - 1;
    const auto& sibling = *static_cast<const leaf_node*>(parent.children[plan.sibling_index]);
    if (remaining + sibling.count <= leaf_capacity) return plan;
    plan.borrow = true;
    // The leaves end up with half each; the entries either side of the new boundary
    // are both the sibling's, because the sibling holds far more than half.
    const bool sibling_right = plan.sibling_index > at.index;
    const std::uint32_t left_count = (remaining + sibling.count) / 2;
    const std::uint32_t boundary = sibling_right ? left_count - remaining : left_count;
    plan.separator = separators_.append(shortest_separator(records_.view(sibling.refs[boundary - 1]).key,
                                                           records_.view(sibling.refs[boundary]).key),
                                        {});
    return plan;
}

inline void btree_table::rebalance(step* path, const rebalance_plan& plan) noexcept {
    const std::uint32_t parent_depth = height_ - 1;
    inner_node& parent = *path[parent_depth].node;
    const std::uint32_t left_index = std::min(path[parent_depth].index, plan.sibling_index);
    auto& left = *static_cast<leaf_node*>(parent.children[left_index]);
    auto& right = *static_cast<leaf_node*>(parent.children[left_index + 1]);
    const fences pf = fences_of(path, parent_depth);
    const fences left_fences = child_fences(parent, pf, left_index);
    const fences right_fences = child_fences(parent, pf, left_index + 1);
    if (plan.borrow) {
        rebalance_leaves(left, right, plan.separator, left_fences.lo, right_fences.hi);
        separators_.release(parent.separators[left_index]);
        parent.separators[left_index] = plan.separator;
        parent.prefixes[left_index] = prefix_at(separator_key(plan.separator), parent.skip);
        return;
    }
    const std::uint32_t old_count = left.count;
    std::copy(right.prefixes.begin(), right.prefixes.begin() + right.count, left.prefixes.begin() + old_count);
    std::copy(right.refs.begin(), right.refs.begin() + right.count, left.refs.begin() + old_count);
    left.count += right.count;
    left.next = right.next;
    retune(left, shared_bytes({left_fences.lo, right_fences.hi}), old_count, left.count, right.skip);
    separators_.release(parent.separators[left_index]);
    remove_child(parent, left_index);
    delete &right;
    --leaf_count_;

    for (std::uint32_t depth = parent_depth; depth > 0 && path[depth].node->count < inner_min; --depth) {
        rebalance_inner(*path[depth - 1].node, fences_of(path, depth - 1), path[depth - 1].index);
    }
    auto* root = static_cast<inner_node*>(root_);
    if (root->count == 1) {
        root_ = root->children[0];
        delete root;
        --inner_count_;
        --height_;
    }
}

inline void btree_table::rebalance_leaves(leaf_node& left, leaf_node& right, ref separator,
                                          std::optional<std::string_view> lo,
                                          std::optional<std::string_view> hi) const noexcept {
    const std::uint32_t left_count = (left.count + right.count) / 2;
    std::uint32_t left_moved_begin = 0;
    std::uint32_t left_moved_end = 0;
    std::uint32_t right_moved_end = 0;
    if (left.count < left_count) {
        const std::uint32_t moved = left_count - left.count;
        std::copy(right.prefixes.begin(), right.prefixes.begin() + moved, left.prefixes.begin() + left.count);
        std::copy(right.refs.begin(), right.refs.begin() + moved, left.refs.begin() + left.count);
        std::copy(right.prefixes.begin() + moved, right.prefixes.begin() + right.count, right.prefixes.begin());
        std::copy(right.refs.begin() + moved, right.refs.begin() + right.count, right.refs.begin());
        left_moved_begin = left.count;
        left_moved_end = left_count;
        right.count -= moved;
    } else {
        const std::uint32_t moved = left.count - left_count;
        std::copy_backward(right.prefixes.begin(), right.prefixes.begin() + right.count,
                           right.prefixes.begin() + right.count + moved);
        std::copy_backward(right.refs.begin(), right.refs.begin() + right.count,
                           right.refs.begin() + right.count + moved);
        std::copy(left.prefixes.begin() + left_count, left.prefixes.begin() + left.count, right.prefixes.begin());
        std::copy(left.refs.begin() + left_count, left.refs.begin() + left.count, right.refs.begin());
        right_moved_end = moved;
        right.count += moved;
    }
    left.count = left_count;
    const std::uint32_t left_skip = left.skip;
    const std::string_view middle = separator_key(separator);
    retune(left, shared_bytes({lo, middle}), left_moved_begin, left_moved_end, right.skip);
    retune(right, shared_bytes({middle, hi}), 0, right_moved_end, left_skip);
}

inline void btree_table::rebalance_inner(inner_node& parent, const fences& pf, std::uint32_t i) noexcept {
    const std::uint32_t left_index = i + 1 < parent.count ? i : i - 1;
    auto& left = *static_cast<inner_node*>(parent.children[left_index]);
    auto& right = *static_cast<inner_node*>(parent.children[left_index + 1]);
    const std::optional<std::string_view> lo = child_fences(parent, pf, left_index).lo;
    const std::optional<std::string_view> hi = child_fences(parent, pf, left_index + 1).hi;
    const std::uint32_t l = left.count;
    const std::uint32_t r = right.count;
    if (l + r <= inner_capacity) {
        // The parent's separator comes down between the two halves.
        left.separators[l - 1] = parent.separators[left_index];
        std::copy(right.separators.begin(), right.separators.begin() + (r - 1), left.separators.begin() + l);
        std::copy(right.children.begin(), right.children.begin() + r, left.children.begin() + l);
        left.count = l + r;
        reload(left, {lo, hi});
        remove_child(parent, left_index);
        delete &right;
        --inner_count_;
        return;
    }
    // Rotate children through the parent: its separator goes down on one side and
    // the separator at the new boundary comes up.
    const std::uint32_t target = (l + r) / 2;
    ref& middle = parent.separators[left_index];
    if (l < target) {
        const std::uint32_t m = target - l;
        left.separators[l - 1] = middle;
        std::copy(right.separators.begin(), right.separators.begin() + (m - 1), left.separators.begin() + l);
        std::copy(right.children.begin(), right.children.begin() + m, left.children.begin() + l);
        middle = right.separators[m - 1];
        std::copy(right.separators.begin() + m, right.separators.begin() + (r - 1), right.separators.begin());
        std::copy(right.children.begin() + m, right.children.begin() + r, right.children.begin());
        right.count = r - m;
    } else {
        const std::uint32_t m = l - target;
        std::copy_backward(right.separators.begin(), right.separators.begin() + (r - 1),
                           right.separators.begin() + (r - 1 + m));
        std::copy_backward(right.children.begin(), right.children.begin() + r, right.children.begin() + (r + m));
        std::copy(left.separators.begin() + target, left.separators.begin() + (l - 1), right.separators.begin());
        right.separators[m - 1] = middle;
        std::copy(left.children.begin() + target, left.children.begin() + l, right.children.begin());
        middle = left.separators[target - 1];
        right.count = r + m;
    }
    left.count = target;
    const std::string_view middle_key = separator_key(middle);
    parent.prefixes[left_index] = prefix_at(middle_key, parent.skip);
    reload(left, {lo, middle_key});
    reload(right, {middle_key, hi});
}

}  // namespace kvforge::detail
