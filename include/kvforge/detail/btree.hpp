#pragma once
/// \file btree.hpp
/// btree_table: the ordered in-memory table behind kvforge::sorted_index, a B+tree.
///
/// Records (key and payload bytes) live in a record_arena; the tree holds only their
/// references. Leaves keep, beside each reference, an 8-byte big-endian prefix of the
/// key in a separate array, so the search within a leaf compares integers and reads
/// the arena only when two prefixes tie. Each leaf caches the prefix from `skip`
/// bytes into the key rather than from its start: every key a leaf may hold lies
/// between the two separators that bound it (its fences), so all of them begin with
/// the common prefix of those fences, and skipping those bytes keeps keys such as
/// "user:00001234" apart by their cached prefixes.
///
/// Inner nodes hold separators, which are copies of key prefixes in a second arena of
/// their own (record arenas release records on erase; a separator must outlive the
/// record it was cut from). Separators are the shortest strings that divide two
/// neighbouring leaves, so they are short and inner nodes stay small. Inner nodes
/// cache separator prefixes past their fences' common bytes as leaves do.
///
/// Erase merges an underfull node (below a quarter) into a sibling, or borrows from
/// it when both do not fit into one node; the root is dropped when it is left with a
/// single child, and the whole tree is freed when its last record goes.
///
/// The table's parts: the nodes and the key prefixes they cache (btree_nodes.hpp), the
/// search, insert and erase (here), the merges and refills that erase leaves to
/// btree_rebalance.hpp, the bottom-up build from sorted records (btree_build.hpp) and the
/// ordered walks (btree_visits.hpp); this header includes the last three at its end.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

#include "btree_nodes.hpp"
#include "record_arena.hpp"

namespace kvforge::detail {

/// An ordered table from byte-string keys to byte-string payloads (unsigned bytewise order).
class btree_table : private btree_nodes {
public:
    /// An empty table; allocates nothing until the first insert.
    btree_table() noexcept = default;

    /// Frees every node and record.
    ~btree_table() { clear(); }

    btree_table(const btree_table&) = delete;
    btree_table& operator=(const btree_table&) = delete;

    /// Takes other's records, leaving other empty.
    btree_table(btree_table&& other) noexcept
        : root_(std::exchange(other.root_, nullptr)),
          height_(std::exchange(other.height_, 0)),
          size_(std::exchange(other.size_, 0)),
          leaf_count_(std::exchange(other.leaf_count_, 0)),
          inner_count_(std::exchange(other.inner_count_, 0)),
          // A moved-from record_arena keeps its byte counters, so give other fresh ones.
          records_(std::exchange(other.records_, record_arena{})),
          separators_(std::exchange(other.separators_, record_arena{})) {}

    /// Drops this table's records and takes other's, leaving other empty.
    btree_table& operator=(btree_table&& other) noexcept {
        if (this != &other) {
            clear();
            root_ = std::exchange(other.root_, nullptr);
            height_ = std::exchange(other.height_, 0);
            size_ = std::exchange(other.size_, 0);
            leaf_count_ = std::exchange(other.leaf_count_, 0);
            inner_count_ = std::exchange(other.inner_count_, 0);
            records_ = std::exchange(other.records_, record_arena{});
            separators_ = std::exchange(other.separators_, record_arena{});
        }
        return *this;
    }

    /// A copy of the table, independent of it. Both arenas are copied as blocks and every
    /// node as a whole (nodes hold arena references, which stay valid in the copied arenas),
    /// with only child and next-leaf pointers set anew: nothing is compared or split. If an
    /// allocation throws, the nodes copied so far are freed.
    [[nodiscard]] btree_table clone() const {
        btree_table copy;
        copy.records_ = records_.clone();
        copy.separators_ = separators_.clone();
        if (root_ == nullptr) return copy;
        copy.height_ = height_;
        leaf_node* last_leaf = nullptr;
        copy.root_ = copy_node(root_, height_, last_leaf);
        copy.fill_children(copy.root_, root_, height_, last_leaf);
        copy.size_ = size_;
        copy.leaf_count_ = leaf_count_;
        copy.inner_count_ = inner_count_;
        return copy;
    }

    /// The payload stored for key, or nullopt. Does not allocate.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (root_ == nullptr) return std::nullopt;
        const leaf_node& leaf = *descend(key, nullptr);
        const leaf_position at = locate(leaf, key);
        if (!at.found) return std::nullopt;
        return records_.view(leaf.refs[at.index]).payload;
    }

    /// Inserts or replaces the record for key. If the key existed, calls
    /// on_replace(std::string_view old_payload) once the replacement can no longer fail,
    /// before it takes effect. Returns true when the key was new. Should an allocation
    /// fail, the table is as it was and on_replace was not called.
    template <class OnReplace>
    bool upsert(std::string_view key, std::string_view payload, OnReplace&& on_replace) {
        if (root_ == nullptr) {
            insert_first(key, payload);
            return true;
        }
        std::array<step, max_height> path;
        leaf_node* leaf = leaf_to_append(key, path.data());
        leaf_position at{0, false};
        if (leaf != nullptr) {
            at.index = leaf->count;
        } else {
            leaf = descend(key, path.data());
            at = locate(*leaf, key);
        }
        if (!at.found) {
            insert_new(path.data(), *leaf, at.index, key, payload);
            ++size_;
            return true;
        }
        ref& r = leaf->refs[at.index];
        if (records_.view(r).payload.size() == payload.size()) {
            on_replace(records_.view(r).payload);
            records_.overwrite_payload(r, payload);
            return false;
        }
        const ref fresh = records_.append(key, payload);  // may throw; nothing has changed yet
        on_replace(records_.view(r).payload);
        records_.release(r);
        r = fresh;
        compact_if_worthwhile();
        return false;
    }

    /// Entries per leaf for assign_sorted() when inserts are to follow: an eighth of each
    /// leaf left free, so that new keys spread over the key range fill those slots before
    /// leaves split (overwrites need no room), at an eighth more leaves for a scan to walk.
    static constexpr std::uint32_t leaf_entries_with_room = 56;

    /// Replaces the table's records with those next(std::string_view& key,
    /// std::string_view& payload) gives until it returns false, which must come in
    /// strictly ascending key order (the views need last only until the next call). The
    /// tree is built bottom up in one pass, with no search: leaves of leaf_entries each
    /// (full by default), then each level of inner nodes over the one below, the last two
    /// nodes of a level sharing their entries so that neither is underfull. The records
    /// are laid out in the arena in key order. Should an allocation or next throw, the
    /// table is left empty.
    template <class Next>
    void assign_sorted(Next&& next, std::uint32_t leaf_entries = leaf_capacity);

    /// Allocates the leaves that assign_sorted(next, leaf_entries) takes for up to
    /// `records` records, and has their pages mapped, for the build to take ready: a
    /// caller with a thread free while it prepares the records lets that thread take the
    /// page faults. Runs on any thread, but beside no other call on this table; stops
    /// early, without error, once stop is requested or if memory runs out (the build makes
    /// the leaves missing). The leaves unused are freed by the next assign_sorted() or clear().
    void prepare_leaves(std::size_t records, std::uint32_t leaf_entries, const std::stop_token& stop = {}) noexcept;

    /// Removes the record for key, first calling on_erase(std::string_view old_payload).
    /// Returns whether the key existed.
    template <class OnErase>
    bool erase(std::string_view key, OnErase&& on_erase) {
        if (root_ == nullptr) return false;
        std::array<step, max_height> path;
        leaf_node* leaf = descend(key, path.data());
        const leaf_position at = locate(*leaf, key);
        if (!at.found) return false;
        const ref victim = leaf->refs[at.index];
        if (size_ == 1) {
            on_erase(records_.view(victim).payload);
            clear();
            return true;
        }
        // Rebalancing may need a new separator; it is allocated before anything changes,
        // so that an allocation failure leaves the table as it was.
        const bool underflow = height_ > 0 && leaf->count - 1 < leaf_min;
        const rebalance_plan plan = underflow ? plan_rebalance(path[height_ - 1], leaf->count - 1) : rebalance_plan{};
        try {
            on_erase(records_.view(victim).payload);
        } catch (...) {
            if (plan.borrow) separators_.release(plan.separator);
            throw;
        }
        records_.release(victim);
        remove_entry(*leaf, at.index);
        --size_;
        if (underflow) rebalance(path.data(), plan);
        compact_if_worthwhile();
        return true;
    }

    /// The number of records.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// Whether there are no records.
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Drops every record and frees all nodes and arena memory.
    void clear() noexcept {
        if (root_ != nullptr) destroy(root_, height_);
        root_ = nullptr;
        height_ = 0;
        size_ = 0;
        leaf_count_ = 0;
        inner_count_ = 0;
        records_.clear();
        separators_.clear();
        spare_leaves_.clear();
    }

    /// Gives back the memory of erased and replaced records now, rather than once they
    /// outweigh the live ones. If an allocation throws, the table is unchanged.
    void shrink_to_fit() {
        if (records_.garbage_bytes() != 0) compact_records();
        if (separators_.garbage_bytes() != 0) compact_separators();
    }

    /// Calls f(std::string_view key, std::string_view payload) for every record in ascending key order.
    template <class F>
    void for_each(F&& f) const {
        for (const leaf_node* leaf = leftmost_leaf(); leaf != nullptr; leaf = leaf->next) {
            for (std::uint32_t i = 0; i < leaf->count; ++i) {
                const record_view r = records_.view(leaf->refs[i]);
                f(r.key, r.payload);
            }
        }
    }

    /// Calls f(key, payload) in ascending key order for the records with key >= from
    /// (key > from when !inclusive), stopping as soon as f returns false.
    template <class F>
    void visit_from(std::string_view from, bool inclusive, F&& f) const {
        visit_from(from, inclusive, f, [](std::string_view, std::string_view) noexcept {});
    }

    /// visit_from, also calling ahead(key, payload) for the record visit_distance places
    /// past the one f is given, so that the caller can start loading what f will read
    /// of it (a log store: the record in the file, where a store filled in random key
    /// order has it far from its neighbours in key order).
    template <class F, class Ahead>
    void visit_from(std::string_view from, bool inclusive, F&& f, Ahead&& ahead) const;

    /// Calls f(key, payload) in descending key order for the records with key <= from
    /// (key < from when !inclusive; every record when from is nullopt), stopping as soon
    /// as f returns false.
    template <class F>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f) const {
        visit_down_from(from, inclusive, f, [](std::string_view, std::string_view) noexcept {});
    }

    /// visit_down_from, calling ahead as visit_from does.
    template <class F, class Ahead>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f, Ahead&& ahead) const;

    /// Calls f(key, payload, replace) in ascending key order for the records with key >=
    /// from (key > from when !inclusive), stopping as soon as f returns false; f may call
    /// replace(std::string_view payload) to give the record it was called for a new
    /// payload, in place when the size is the same (else it may throw std::bad_alloc,
    /// leaving that record as it was). Nothing else changes the table meanwhile: a walk
    /// that updates many records in key order costs no search per record, and the arena
    /// entries are prefetched ahead of it as visit_from's are.
    template <class F>
    void update_from(std::string_view from, bool inclusive, F&& f);

    /// Bytes of heap memory held: nodes, records and separators.
    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return leaf_count_ * sizeof(leaf_node) + inner_count_ * sizeof(inner_node) + records_.memory_usage() +
               separators_.memory_usage();
    }

private:
    // How an underfull leaf is fixed: merged with, or refilled from, a sibling.
    struct rebalance_plan {
        bool borrow = false;
        std::uint32_t sibling_index = 0;
        ref separator = 0;  // the new separator between the two, when borrowing
    };

    // The bytes of a separator.
    [[nodiscard]] std::string_view separator_key(ref r) const noexcept { return separators_.view(r).key; }

    // The child of node that holds key.
    [[nodiscard]] std::uint32_t route(const inner_node& node, std::string_view key) const noexcept {
        const std::uint64_t p = prefix_at(key, node.skip);
        const std::uint32_t n = node.count - 1;
        std::uint32_t i = lower_bound(node.prefixes.data(), n, p);
        if (i == n || node.prefixes[i] != p) return i;
        // Separators whose prefix ties with the key's: find the first one greater than the key.
        std::uint32_t end = tie_end(node.prefixes.data(), i, n);
        while (i < end) {
            const std::uint32_t mid = i + (end - i) / 2;
            if (separator_key(node.separators[mid]).compare(key) <= 0) {
                i = mid + 1;
            } else {
                end = mid;
            }
        }
        return i;
    }

    // The leaf that holds key; records the inner nodes passed in path when it is not null.
    [[nodiscard]] leaf_node* descend(std::string_view key, step* path) const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            const std::uint32_t i = route(*inner, key);
            if (path != nullptr) path[depth] = {inner, i};
            node = inner->children[i];
            prefetch_search_lines(node, depth + 1 == height_);
        }
        return static_cast<leaf_node*>(node);
    }

    // Starts loading the lines a search of node reads (header and prefixes), so that
    // their cache misses overlap instead of following one another down the binary search.
    static void prefetch_search_lines(const node_base* node, bool is_leaf) noexcept {
        constexpr std::ptrdiff_t line = 64;
        const char* begin = reinterpret_cast<const char*>(node);
        const void* end = is_leaf ? static_cast<const void*>(static_cast<const leaf_node*>(node)->refs.data())
                                  : static_cast<const void*>(static_cast<const inner_node*>(node)->separators.data());
        for (const char* p = begin; p < static_cast<const char*>(end); p += line) __builtin_prefetch(p);
    }

    // How far an ordered visit runs ahead of its visitor: ahead() is called for the record
    // visit_distance places on, and that record's arena entry is prefetched twice as far
    // ahead, so that ahead() finds it in the cache. Sixteen records cover the latency of
    // a miss at the rate a scan hands out records without holding more lines in flight
    // than the cache can track.
    static constexpr std::uint32_t visit_distance = 16;

    struct ascending_cursor;
    struct descending_cursor;

    template <class Cursor, class F, class Ahead>
    void visit_ahead(const Cursor& start, F& f, Ahead& ahead) const;

    // The first leaf in key order, or null when the table is empty.
    [[nodiscard]] leaf_node* leftmost_leaf() const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; node != nullptr && depth < height_; ++depth) {
            node = static_cast<inner_node*>(node)->children[0];
        }
        return static_cast<leaf_node*>(node);
    }

    // The last leaf in key order (the table is not empty); records the inner nodes passed in path.
    [[nodiscard]] leaf_node* rightmost_leaf(step* path) const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            path[depth] = {inner, inner->count - 1};
            node = inner->children[inner->count - 1];
        }
        return static_cast<leaf_node*>(node);
    }

    // The last leaf, with the inner nodes passed recorded in path, when key comes after
    // every key in the table (the table is not empty); null otherwise. Keys that arrive
    // in order (timestamps, counters) then go in with one compare, not a search of each
    // node on the way: the path there is what descend(key) would take.
    [[nodiscard]] leaf_node* leaf_to_append(std::string_view key, step* path) const noexcept {
        leaf_node* last = rightmost_leaf(path);
        if (last->count == 0 || records_.view(last->refs[last->count - 1]).key.compare(key) >= 0) return nullptr;
        return last;
    }

    // The leaf before the one path leads to, moving path to it; null when that is the first.
    [[nodiscard]] leaf_node* previous_leaf(step* path) const noexcept {
        std::uint32_t depth = height_;
        while (depth > 0 && path[depth - 1].index == 0) --depth;
        if (depth == 0) return nullptr;
        step& turn = path[depth - 1];
        --turn.index;
        node_base* node = turn.node->children[turn.index];
        for (; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            path[depth] = {inner, inner->count - 1};
            node = inner->children[inner->count - 1];
        }
        return static_cast<leaf_node*>(node);
    }

    // Where key belongs in leaf (which key routes to, so key shares the leaf's skipped bytes).
    [[nodiscard]] leaf_position locate(const leaf_node& leaf, std::string_view key) const noexcept {
        const std::uint64_t p = prefix_at(key, leaf.skip);
        std::uint32_t i = lower_bound(leaf.prefixes.data(), leaf.count, p);
        if (i == leaf.count || leaf.prefixes[i] != p) return {i, false};
        // Tied prefixes: the bytes past them are in the arena.
        const std::string_view rest = key.substr(leaf.skip);
        std::uint32_t end = tie_end(leaf.prefixes.data(), i, leaf.count);
        while (i < end) {
            const std::uint32_t mid = i + (end - i) / 2;
            const int c = records_.view(leaf.refs[mid]).key.substr(leaf.skip).compare(rest);
            if (c == 0) return {mid, true};
            if (c < 0) {
                i = mid + 1;
            } else {
                end = mid;
            }
        }
        return {i, false};
    }

    // The key range of the node below path[0..depth).
    [[nodiscard]] fences fences_of(const step* path, std::uint32_t depth) const noexcept {
        fences f;
        for (std::uint32_t d = depth; d-- > 0 && !(f.lo && f.hi);) {
            const step& s = path[d];
            if (!f.lo && s.index > 0) f.lo = separator_key(s.node->separators[s.index - 1]);
            if (!f.hi && s.index + 1 < s.node->count) f.hi = separator_key(s.node->separators[s.index]);
        }
        return f;
    }

    // The key range of child i of parent, whose own range is pf.
    [[nodiscard]] fences child_fences(const inner_node& parent, const fences& pf, std::uint32_t i) const noexcept {
        fences f = pf;
        if (i > 0) f.lo = separator_key(parent.separators[i - 1]);
        if (i + 1 < parent.count) f.hi = separator_key(parent.separators[i]);
        return f;
    }

    // Recomputes the cached prefixes of entries [begin, end) from their keys.
    void load_prefixes(leaf_node& leaf, std::uint32_t begin, std::uint32_t end) const noexcept {
        for (std::uint32_t i = begin; i < end; ++i) {
            leaf.prefixes[i] = prefix_at(records_.view(leaf.refs[i]).key, leaf.skip);
        }
    }

    // Adapts leaf to new fences that share `shared` bytes. Entries [moved_begin, moved_end)
    // came from a leaf whose prefixes skipped moved_skip bytes.
    void retune(leaf_node& leaf, std::size_t shared, std::uint32_t moved_begin, std::uint32_t moved_end,
                std::uint32_t moved_skip) const noexcept {
        // Skipping more than the fences share would be wrong; skipping a little less only
        // costs some tie-breaks, which is cheaper than re-reading every key on each split.
        if (shared < leaf.skip || shared >= leaf.skip + skip_step) {
            leaf.skip = static_cast<std::uint32_t>(shared);
            load_prefixes(leaf, 0, leaf.count);
        } else if (moved_skip != leaf.skip) {
            load_prefixes(leaf, moved_begin, moved_end);
        }
    }

    // Sets the skip of an inner node whose separators moved or whose fences changed to
    // what its fences f share, and recomputes its prefixes. Inner nodes change rarely,
    // so they always skip all the bytes they can.
    void reload(inner_node& node, const fences& f) const noexcept {
        node.skip = static_cast<std::uint32_t>(shared_bytes(f));
        for (std::uint32_t i = 0; i + 1 < node.count; ++i) {
            node.prefixes[i] = prefix_at(separator_key(node.separators[i]), node.skip);
        }
    }

    // Makes the first record the whole tree: a root leaf holding it.
    void insert_first(std::string_view key, std::string_view payload) {
        std::unique_ptr<leaf_node> leaf = make_leaf();
        leaf->refs[0] = records_.append(key, payload);
        leaf->prefixes[0] = prefix_at(key, 0);
        leaf->count = 1;
        leaf->skip = 0;
        leaf->next = nullptr;
        root_ = leaf.release();
        ++leaf_count_;
        size_ = 1;
    }

    // Inserts a new record at position pos of leaf, the end of path, splitting full nodes.
    void insert_new(const step* path, leaf_node& leaf, std::uint32_t pos, std::string_view key,
                    std::string_view payload) {
        if (leaf.count < leaf_capacity) {
            const ref r = records_.append(key, payload);
            insert_entry(leaf, pos, prefix_at(key, leaf.skip), r);
            return;
        }
        // Allocate everything the split needs first, so a failure changes nothing.
        std::uint32_t inner_splits = 0;
        while (inner_splits < height_ && path[height_ - 1 - inner_splits].node->count == inner_capacity) {
            ++inner_splits;
        }
        std::unique_ptr<leaf_node> right = make_leaf();
        std::array<std::unique_ptr<inner_node>, max_height + 1> spare_inners;
        for (std::uint32_t i = 0; i < inner_splits + (inner_splits == height_ ? 1 : 0); ++i) {
            spare_inners[i] = make_inner();
        }
        // Appending at the right end of the table (ascending loads) leaves the old leaf
        // full and starts the new one with just the new record, so such loads fill leaves.
        const std::uint32_t left_count =
            leaf.next == nullptr && pos == leaf.count ? leaf_capacity : (leaf_capacity + 1) / 2;
        const auto key_at = [&](std::uint32_t i) {
            return i == pos ? key : records_.view(leaf.refs[i < pos ? i : i - 1]).key;
        };
        const ref separator = separators_.append(shortest_separator(key_at(left_count - 1), key_at(left_count)), {});
        ref r = 0;
        try {
            r = records_.append(key, payload);
        } catch (...) {
            separators_.release(separator);
            throw;
        }

        // From here on nothing allocates.
        const fences f =
            height_ > 0 ? child_fences(*path[height_ - 1].node, fences_of(path, height_ - 1), path[height_ - 1].index)
                        : fences{};
        split_leaf(leaf, *right, pos, prefix_at(key, leaf.skip), r, left_count);
        const std::string_view separator_view = separator_key(separator);
        retune(leaf, shared_bytes({f.lo, separator_view}), 0, 0, leaf.skip);
        retune(*right, shared_bytes({separator_view, f.hi}), 0, 0, right->skip);
        ++leaf_count_;

        // Hand the separator and the new node up until a node has room for them.
        ref up_separator = separator;
        node_base* up_child = right.release();
        std::uint32_t spare = 0;
        for (std::uint32_t depth = height_; depth-- > 0;) {
            inner_node& node = *path[depth].node;
            if (node.count < inner_capacity) {
                insert_child(node, path[depth].index, up_separator, up_child);
                return;
            }
            const fences node_fences = fences_of(path, depth);
            inner_node* sibling = spare_inners[spare++].release();
            up_separator = split_inner(node, *sibling, path[depth].index, up_separator, up_child);
            const std::string_view middle = separator_key(up_separator);
            reload(node, {node_fences.lo, middle});
            reload(*sibling, {middle, node_fences.hi});
            ++inner_count_;
            up_child = sibling;
        }
        // The root split: grow a level.
        inner_node* root = spare_inners[spare].release();
        root->count = 2;
        root->skip = 0;
        root->prefixes[0] = prefix_at(separator_key(up_separator), 0);
        root->separators[0] = up_separator;
        root->children[0] = root_;
        root->children[1] = up_child;
        root_ = root;
        ++inner_count_;
        ++height_;
    }

    // Inserts (prefix, r) at pos of a leaf with room.
    static void insert_entry(leaf_node& leaf, std::uint32_t pos, std::uint64_t prefix, ref r) noexcept {
        std::copy_backward(leaf.prefixes.begin() + pos, leaf.prefixes.begin() + leaf.count,
                           leaf.prefixes.begin() + leaf.count + 1);
        std::copy_backward(leaf.refs.begin() + pos, leaf.refs.begin() + leaf.count, leaf.refs.begin() + leaf.count + 1);
        leaf.prefixes[pos] = prefix;
        leaf.refs[pos] = r;
        ++leaf.count;
    }

    // Removes the entry at pos of a leaf.
    static void remove_entry(leaf_node& leaf, std::uint32_t pos) noexcept {
        std::copy(leaf.prefixes.begin() + pos + 1, leaf.prefixes.begin() + leaf.count, leaf.prefixes.begin() + pos);
        std::copy(leaf.refs.begin() + pos + 1, leaf.refs.begin() + leaf.count, leaf.refs.begin() + pos);
        --leaf.count;
    }

    // Spreads the entries of the full leaf `left`, plus (prefix, r) at pos, over left and
    // the fresh leaf `right`, leaving left_count in left. Prefixes keep left's skip.
    static void split_leaf(leaf_node& left, leaf_node& right, std::uint32_t pos, std::uint64_t prefix, ref r,
                           std::uint32_t left_count) noexcept {
        std::array<std::uint64_t, leaf_capacity + 1> prefixes;
        std::array<ref, leaf_capacity + 1> refs;
        std::copy(left.prefixes.begin(), left.prefixes.begin() + pos, prefixes.begin());
        std::copy(left.refs.begin(), left.refs.begin() + pos, refs.begin());
        prefixes[pos] = prefix;
        refs[pos] = r;
        std::copy(left.prefixes.begin() + pos, left.prefixes.end(), prefixes.begin() + pos + 1);
        std::copy(left.refs.begin() + pos, left.refs.end(), refs.begin() + pos + 1);

        std::copy(prefixes.begin(), prefixes.begin() + left_count, left.prefixes.begin());
        std::copy(refs.begin(), refs.begin() + left_count, left.refs.begin());
        std::copy(prefixes.begin() + left_count, prefixes.end(), right.prefixes.begin());
        std::copy(refs.begin() + left_count, refs.end(), right.refs.begin());
        right.count = leaf_capacity + 1 - left_count;
        right.skip = left.skip;
        right.next = left.next;
        left.count = left_count;
        left.next = &right;
    }

    // Adds child right of children[index] in a node with room, with the separator between them.
    void insert_child(inner_node& node, std::uint32_t index, ref separator, node_base* child) const noexcept {
        const std::uint32_t separators = node.count - 1;
        std::copy_backward(node.prefixes.begin() + index, node.prefixes.begin() + separators,
                           node.prefixes.begin() + separators + 1);
        std::copy_backward(node.separators.begin() + index, node.separators.begin() + separators,
                           node.separators.begin() + separators + 1);
        std::copy_backward(node.children.begin() + index + 1, node.children.begin() + node.count,
                           node.children.begin() + node.count + 1);
        node.prefixes[index] = prefix_at(separator_key(separator), node.skip);
        node.separators[index] = separator;
        node.children[index + 1] = child;
        ++node.count;
    }

    // Removes children[index + 1] and the separator left of it.
    static void remove_child(inner_node& node, std::uint32_t index) noexcept {
        const std::uint32_t separators = node.count - 1;
        std::copy(node.prefixes.begin() + index + 1, node.prefixes.begin() + separators, node.prefixes.begin() + index);
        std::copy(node.separators.begin() + index + 1, node.separators.begin() + separators,
                  node.separators.begin() + index);
        std::copy(node.children.begin() + index + 2, node.children.begin() + node.count,
                  node.children.begin() + index + 1);
        --node.count;
    }

    // Like insert_child on the full node `left`, spreading the children over left and the
    // fresh node `right`; returns the middle separator, which moves up to the parent.
    // Prefixes are left for reload().
    static ref split_inner(inner_node& left, inner_node& right, std::uint32_t index, ref separator,
                           node_base* child) noexcept {
        std::array<ref, inner_capacity> separators;
        std::array<node_base*, inner_capacity + 1> children;
        std::copy(left.separators.begin(), left.separators.begin() + index, separators.begin());
        separators[index] = separator;
        std::copy(left.separators.begin() + index, left.separators.end(), separators.begin() + index + 1);
        std::copy(left.children.begin(), left.children.begin() + index + 1, children.begin());
        children[index + 1] = child;
        std::copy(left.children.begin() + index + 1, left.children.end(), children.begin() + index + 2);

        constexpr std::uint32_t left_children = (inner_capacity + 1) / 2;
        left.count = left_children;
        std::copy(separators.begin(), separators.begin() + left_children - 1, left.separators.begin());
        std::copy(children.begin(), children.begin() + left_children, left.children.begin());
        right.count = inner_capacity + 1 - left_children;
        std::copy(separators.begin() + left_children, separators.end(), right.separators.begin());
        std::copy(children.begin() + left_children, children.end(), right.children.begin());
        return separators[left_children - 1];
    }

    // Decides how to fix the leaf at `at` once it holds `remaining` entries, and when
    // borrowing, allocates the separator the two leaves will have afterwards.
    [[nodiscard]] rebalance_plan plan_rebalance(const step& at, std::uint32_t remaining);
    // Carries out plan for the underfull leaf at the end of path, then fixes the inner
    // nodes above it and drops a root left with one child.
    void rebalance(step* path, const rebalance_plan& plan) noexcept;
    // Moves entries between neighbouring leaves so each holds half, given the separator
    // that will lie between them and the outer fences of the pair.
    void rebalance_leaves(leaf_node& left, leaf_node& right, ref separator, std::optional<std::string_view> lo,
                          std::optional<std::string_view> hi) const noexcept;
    // Fixes the underfull child i of parent (whose fences are pf) by merging it with a
    // sibling, or by moving children over from the sibling when the two do not fit into one node.
    void rebalance_inner(inner_node& parent, const fences& pf, std::uint32_t i) noexcept;

    // Reclaims arena garbage once it outweighs the live data.
    // Called after a change took effect, so it must not fail: without the memory to
    // compact (which leaves an arena as it was), the garbage stays until a later call.
    void compact_if_worthwhile() noexcept {
        try {
            if (records_.wants_compaction()) compact_records();
            if (separators_.wants_compaction()) compact_separators();
        } catch (const std::bad_alloc&) {
        }
    }

    void compact_records() {
        records_.compact([this](auto&& update) {
            for (leaf_node* leaf = leftmost_leaf(); leaf != nullptr; leaf = leaf->next) {
                for (std::uint32_t i = 0; i < leaf->count; ++i) update(leaf->refs[i]);
            }
        });
    }

    void compact_separators() {
        separators_.compact([this](auto&& update) { visit_separators(root_, height_, update); });
    }

    node_base* root_ = nullptr;
    std::uint32_t height_ = 0;  // inner levels above the leaves
    std::size_t size_ = 0;
    std::size_t leaf_count_ = 0;
    std::size_t inner_count_ = 0;
    record_arena records_;                                  // keys and payloads
    record_arena separators_;                               // inner-node separators, as keys with empty payloads
    std::vector<std::unique_ptr<leaf_node>> spare_leaves_;  // prepare_leaves()'s, for assign_sorted()
};

}  // namespace kvforge::detail

#include "btree_build.hpp"
#include "btree_rebalance.hpp"
#include "btree_visits.hpp"
