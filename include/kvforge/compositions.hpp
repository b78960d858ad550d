#pragma once
/// \file compositions.hpp
/// The compositions kvforge::open_store may open: a list of policy sets, each of which
/// becomes one store type when open_store is instantiated. Nothing outside the list is
/// compiled, so a program pays in build time for exactly the stores its configuration
/// may name.
///
///     // every store, index, durability and threading policy kvforge has (the default)
///     kvforge::open_store<std::string, std::string>("file_log,sorted:data/users");
///
///     // only what this program's configuration can name
///     using my_stores = kvforge::composition_list<
///         kvforge::policies<kvforge::memory, kvforge::hash_index>,
///         kvforge::policies<kvforge::file_log, kvforge::sorted_index, kvforge::sync_each, kvforge::thread_safe>>;
///     kvforge::open_store<std::string, std::string, my_stores>("file_log,sorted,sync_each,mt:data/users");
///
/// A policy joins the words of a spec by its `name` (and `short_name`, if it has one);
/// policies of a new kind (expiry, compression) join as a new axis, named by their kind:
/// "file_log,hash,expiring:data/sessions" names expiring<std::chrono::system_clock>.

#include <type_traits>

#include "concepts.hpp"
#include "detail/policy_pack.hpp"
#include "durability/async_worker.hpp"
#include "durability/buffered.hpp"
#include "durability/sync_each.hpp"
#include "expiry/expiring.hpp"
#include "index/hash_index.hpp"
#include "index/sorted_index.hpp"
#include "stores/file_log.hpp"
#include "stores/memory.hpp"
#include "stores/mmap_file.hpp"
#include "threading/single_thread.hpp"
#include "threading/thread_safe.hpp"

namespace kvforge {

/// One composition: policies as kvforge::store takes them (any order, kinds left out
/// take their defaults).
template <class... Policies>
struct policies {};

/// The compositions open_store may open; only these are instantiated. Where a spec
/// leaves a kind out, open_store takes the store's manifest's policy or kvforge's
/// default; when the list has neither, the first composition in list order that fits.
template <class... Compositions>
struct composition_list {};

/// The alternatives for one kind of policy in a composition_product.
template <class... Policies>
struct one_of {};

namespace detail {

template <class Pack, class... More>
struct concat_packs {
    using type = Pack;
};
template <class... A, class... B, class... More>
struct concat_packs<policies<A...>, policies<B...>, More...> {
    using type = typename concat_packs<policies<A..., B...>, More...>::type;
};

template <class List, class... More>
struct concat_lists {
    using type = List;
};
template <class... A, class... B, class... More>
struct concat_lists<composition_list<A...>, composition_list<B...>, More...> {
    using type = typename concat_lists<composition_list<A..., B...>, More...>::type;
};

/// A pack whose store keeps nothing on disk takes no durability policy: drop it.
template <class Pack>
struct without_needless_durability;
template <class... Ps>
struct without_needless_durability<policies<Ps...>> {
    static constexpr bool persistent = resolved_policies<Ps...>::store::persistent;
    using type = typename concat_packs<
        policies<>, std::conditional_t<persistent || !policy_of_kind<Ps, policy_kind::durability>, policies<Ps>,
                                       policies<>>...>::type;
};

template <class List, class Pack>
struct append_unique;
template <class... Packs, class Pack>
struct append_unique<composition_list<Packs...>, Pack> {
    using type = std::conditional_t<(std::is_same_v<Packs, Pack> || ...), composition_list<Packs...>,
                                    composition_list<Packs..., Pack>>;
};

template <class List, class... Packs>
struct unique_packs {
    using type = List;
};
template <class List, class Pack, class... Rest>
struct unique_packs<List, Pack, Rest...> {
    using type = typename unique_packs<typename append_unique<List, Pack>::type, Rest...>::type;
};

/// Every pack of List extended by each policy of Axis.
template <class List, class Axis>
struct extend_by;
template <class Pack, class Axis>
struct extend_pack;
template <class... Ps, class... Choices>
struct extend_pack<policies<Ps...>, one_of<Choices...>> {
    using type = composition_list<policies<Ps..., Choices>...>;
};
template <class... Packs, class Axis>
struct extend_by<composition_list<Packs...>, Axis> {
    using type = typename concat_lists<composition_list<>, typename extend_pack<Packs, Axis>::type...>::type;
};

template <class List, class... Axes>
struct product_of {
    using type = List;
};
template <class List, class Axis, class... Rest>
struct product_of<List, Axis, Rest...> {
    using type = typename product_of<typename extend_by<List, Axis>::type, Rest...>::type;
};

template <class List>
struct normalised_list;
template <class... Packs>
struct normalised_list<composition_list<Packs...>> {
    using type = typename unique_packs<composition_list<>, typename without_needless_durability<Packs>::type...>::type;
};

}  // namespace detail

/// Every combination of one policy from each one_of, as a composition_list, in order
/// (the first one_of varies slowest). A store that keeps nothing on disk takes none of
/// the durability policies, so its combinations appear once, without one.
template <class... Axes>
using composition_product =
    typename detail::normalised_list<typename detail::product_of<composition_list<policies<>>, Axes...>::type>::type;

/// What open_store instantiates unless told otherwise: every store, index, durability
/// and threading policy of kvforge, 28 compositions, which are
/// composition_product<one_of<memory, file_log, mmap_file>, one_of<hash_index,
/// sorted_index>, one_of<buffered<>, sync_each, async_worker<>>, one_of<single_thread,
/// thread_safe>> (tests/unit/store_spec_test.cpp checks that they are); and, so that every
/// expiring file store opens (a spec word `expiring`), file_log with either index and
/// expiring<std::chrono::system_clock>, 2 more. A store's durability, threading and
/// store policy (file_log or mmap_file) bind nothing on disk, so these two read every
/// store written with expiring<>; a program that needs another expiring composition
/// names it in its own list. Written out rather than computed: computing the product
/// cost clang++ 14 about 0.2 s of CPU in each file that includes this header (6% of
/// `kvforge.hpp` alone), whether the file opens a store by spec or not.
using default_compositions = composition_list<
    policies<memory, hash_index, single_thread>,
    policies<memory, hash_index, thread_safe>,
    policies<memory, sorted_index, single_thread>,
    policies<memory, sorted_index, thread_safe>,
    policies<file_log, hash_index, buffered<>, single_thread>,
    policies<file_log, hash_index, buffered<>, thread_safe>,
    policies<file_log, hash_index, sync_each, single_thread>,
    policies<file_log, hash_index, sync_each, thread_safe>,
    policies<file_log, hash_index, async_worker<>, single_thread>,
    policies<file_log, hash_index, async_worker<>, thread_safe>,
    policies<file_log, sorted_index, buffered<>, single_thread>,
    policies<file_log, sorted_index, buffered<>, thread_safe>,
    policies<file_log, sorted_index, sync_each, single_thread>,
    policies<file_log, sorted_index, sync_each, thread_safe>,
    policies<file_log, sorted_index, async_worker<>, single_thread>,
    policies<file_log, sorted_index, async_worker<>, thread_safe>,
    policies<mmap_file, hash_index, buffered<>, single_thread>,
    policies<mmap_file, hash_index, buffered<>, thread_safe>,
    policies<mmap_file, hash_index, sync_each, single_thread>,
    policies<mmap_file, hash_index, sync_each, thread_safe>,
    policies<mmap_file, hash_index, async_worker<>, single_thread>,
    policies<mmap_file, hash_index, async_worker<>, thread_safe>,
    policies<mmap_file, sorted_index, buffered<>, single_thread>,
    policies<mmap_file, sorted_index, buffered<>, thread_safe>,
    policies<mmap_file, sorted_index, sync_each, single_thread>,
    policies<mmap_file, sorted_index, sync_each, thread_safe>,
    policies<mmap_file, sorted_index, async_worker<>, single_thread>,
    policies<mmap_file, sorted_index, async_worker<>, thread_safe>,
    policies<file_log, hash_index, expiring<>>,
    policies<file_log, sorted_index, expiring<>>>;

}  // namespace kvforge
