#pragma once
/// \file policy_pack.hpp
/// Resolution of store<Key, Value, Policies...>'s policy list: any order, each kind at
/// most once, defaults for the kinds left out, and a readable error for every misuse.

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include "../codec.hpp"
#include "../compression/compressed.hpp"
#include "../concepts.hpp"
#include "../durability/buffered.hpp"
#include "../expiry/expiring.hpp"
#include "../index/hash_index.hpp"
#include "../io/posix.hpp"
#include "../stores/memory.hpp"
#include "../threading/single_thread.hpp"
#include "clocks.hpp"

namespace kvforge::detail {

/// The durability of a store that keeps nothing on disk.
struct no_durability {
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "none";
};

/// The cache policy of a store that has none: its store policy's backend as it is.
struct no_cache {
    using policy_kind = kvforge::policy_kind::cache;
    template <class Policies, class StoreBackend>
    using backend = StoreBackend;
};

template <class P>
concept any_policy = policy_of_kind<P, policy_kind::store> || policy_of_kind<P, policy_kind::durability> ||
                     policy_of_kind<P, policy_kind::index> || policy_of_kind<P, policy_kind::threading> ||
                     policy_of_kind<P, policy_kind::io> || policy_of_kind<P, policy_kind::cache> ||
                     policy_of_kind<P, policy_kind::expiry> || policy_of_kind<P, policy_kind::compression>;

template <class Kind, class... Ps>
inline constexpr std::size_t count_of_kind = (std::size_t{0} + ... + (policy_of_kind<Ps, Kind> ? 1 : 0));

/// The first of Ps whose kind is Kind, or Default.
template <class Kind, class Default, class... Ps>
struct find_policy {
    using type = Default;
};
template <class Kind, class Default, class P, class... Rest>
struct find_policy<Kind, Default, P, Rest...> {
    using type = std::conditional_t<policy_of_kind<P, Kind>, P, typename find_policy<Kind, Default, Rest...>::type>;
};

/// The policy of each kind for a list given in any order.
template <class... Ps>
struct resolved_policies {
    using store = typename find_policy<policy_kind::store, memory, Ps...>::type;
    using index = typename find_policy<policy_kind::index, hash_index, Ps...>::type;
    using threading = typename find_policy<policy_kind::threading, single_thread, Ps...>::type;
    using io = typename find_policy<policy_kind::io, posix_io, Ps...>::type;
    static constexpr bool durability_given = count_of_kind<policy_kind::durability, Ps...> != 0;
    static constexpr bool io_given = count_of_kind<policy_kind::io, Ps...> != 0;
    using cache = typename find_policy<policy_kind::cache, no_cache, Ps...>::type;
    static constexpr bool cache_given = count_of_kind<policy_kind::cache, Ps...> != 0;
    using expiry = typename find_policy<policy_kind::expiry, no_expiry, Ps...>::type;
    static constexpr bool expiry_given = count_of_kind<policy_kind::expiry, Ps...> != 0;
    using compression = typename find_policy<policy_kind::compression, no_compression, Ps...>::type;
    static constexpr bool compression_given = count_of_kind<policy_kind::compression, Ps...> != 0;
    using durability = typename find_policy<policy_kind::durability,
                                            std::conditional_t<store::persistent, buffered<>, no_durability>,
                                            Ps...>::type;
};

template <class T>
inline constexpr bool is_view_type = is_string_view_v<T>;

/// Whether a store policy reads through a memory mapping (declares `mapped = true`).
template <class Store>
inline constexpr bool mapped_store = requires { requires Store::mapped; };

/// Checks a store's template arguments; each failure is a static_assert naming the fix.
/// Returns true so it can sit inside a static_assert of its own.
template <class Key, class Value, class... Ps>
consteval bool check_store_arguments() {
    static_assert((any_policy<Ps> && ...),
                  "kvforge: every argument after Key and Value must be a kvforge policy: a store "
                  "(memory, file_log, mmap_file), durability (sync_each, buffered<>, async_worker<>), index (hash_index, "
                  "sorted_index), threading (single_thread, thread_safe), I/O (posix_io), cache (bounded<>, "
                  "read_cache<>), expiry (expiring<>) or compression (compressed<Codec>) policy");
    static_assert(count_of_kind<policy_kind::store, Ps...> <= 1,
                  "kvforge: two store policies given; keep one of kvforge::memory, kvforge::file_log, "
                  "kvforge::mmap_file");
    static_assert(count_of_kind<policy_kind::durability, Ps...> <= 1,
                  "kvforge: two durability policies given; keep one of kvforge::sync_each, "
                  "kvforge::buffered<>, kvforge::async_worker<>");
    static_assert(count_of_kind<policy_kind::index, Ps...> <= 1,
                  "kvforge: two index policies given; keep one of kvforge::hash_index, kvforge::sorted_index");
    static_assert(count_of_kind<policy_kind::threading, Ps...> <= 1,
                  "kvforge: two threading policies given; keep one of kvforge::single_thread, "
                  "kvforge::thread_safe");

    static_assert(count_of_kind<policy_kind::io, Ps...> <= 1, "kvforge: two I/O policies given; keep one");
    static_assert(count_of_kind<policy_kind::cache, Ps...> <= 1,
                  "kvforge: two cache policies given; keep one: kvforge::bounded<> for a memory store, "
                  "kvforge::read_cache<> for a persistent one");

    static_assert(count_of_kind<policy_kind::expiry, Ps...> <= 1,
                  "kvforge: two expiry policies given; keep one kvforge::expiring<Clock>");
    static_assert(count_of_kind<policy_kind::compression, Ps...> <= 1,
                  "kvforge: two compression policies given; keep one kvforge::compressed<Codec>");

    using policies = resolved_policies<Ps...>;
    // A file store keeps each deadline as a count of the clock's ticks since its epoch,
    // read back after a restart: the epoch must outlive the process and the machine's uptime.
    static_assert(!policies::expiry_given || !policies::store::persistent ||
                      !std::is_same_v<typename policies::expiry::clock, std::chrono::steady_clock>,
                  "kvforge: a file store keeps its deadlines across restarts, but std::chrono::steady_clock counts "
                  "from the machine's boot, so a deadline read after a reboot would mean another time; use "
                  "kvforge::expiring<std::chrono::system_clock>");
    static_assert(!policies::expiry_given || !policies::store::persistent ||
                      named_clock<typename policies::expiry::clock>,
                  "kvforge: a file store records the clock of its deadlines in its MANIFEST, and this clock has no "
                  "name: give it a member `static constexpr std::string_view name`, or specialize "
                  "kvforge::clock_name<Clock>");
    static_assert(store_policy<typename policies::store>,
                  "kvforge: the store policy does not satisfy the concept kvforge::store_policy, which lists what it must provide");
    static_assert(index_policy<typename policies::index>,
                  "kvforge: the index policy does not satisfy the concept kvforge::index_policy, which lists what it must provide");
    static_assert(threading_policy<typename policies::threading>,
                  "kvforge: the threading policy does not satisfy the concept kvforge::threading_policy, which lists what it must provide");
    static_assert(durability_policy<typename policies::durability>,
                  "kvforge: the durability policy does not satisfy the concept kvforge::durability_policy, which lists what it must provide");
    static_assert(policies::store::persistent || !policies::durability_given,
                  "kvforge: kvforge::memory keeps nothing on disk, so it takes no durability policy; remove the "
                  "durability policy or choose a persistent store such as kvforge::file_log");
    static_assert(policies::store::persistent || !policies::io_given,
                  "kvforge: kvforge::memory does no I/O, so it takes no I/O policy; remove it or choose a "
                  "persistent store such as kvforge::file_log");
    static_assert(io_policy<typename policies::io>,
                  "kvforge: the I/O policy does not satisfy the concept kvforge::io_policy, which lists what it must provide");
                      if constexpr (policies::cache_given) {
        using cache = typename policies::cache;
        static_assert(cache_policy<cache>,
                      "kvforge: the cache policy does not satisfy the concept kvforge::cache_policy, which lists what it must provide");
        static_assert(cache::persistent_store || !policies::store::persistent,
                      "kvforge: kvforge::bounded<> bounds a kvforge::memory store; to keep a persistent store's "
                      "values in memory use kvforge::read_cache<>");
        static_assert(!cache::persistent_store || policies::store::persistent,
                      "kvforge: kvforge::read_cache<> caches a persistent store's values, and a kvforge::memory "
                      "store holds them in memory already; to bound its size use kvforge::bounded<>");
        // Measured (bench/cache_bench.cpp, zipf_get): a mapped store's get copies from the
        // page cache and is faster alone than behind a read cache, whose hits save little
        // and whose misses add an insert.
        static_assert(!cache::persistent_store || !mapped_store<typename policies::store>,
                      "kvforge: kvforge::read_cache<> cannot speed up kvforge::mmap_file, whose gets already copy "
                      "from the page cache through its mapping; use mmap_file alone, or kvforge::file_log with "
                      "read_cache<>");
    }

    static_assert(!is_view_type<Key> && !is_view_type<Value>,
                  "kvforge: use std::string, not std::string_view, as the key or value type: a view cannot own "
                  "the bytes a store returns; every call of a std::string store accepts std::string_view");
    static_assert(encodable<Key>,
                  "kvforge: no codec for the key type; specialise kvforge::codec<Key> with static "
                  "std::string name(), std::string_view encode(const Key&, std::string& scratch) and "
                  "bool decode(std::string_view, Key&)");
    static_assert(encodable<Value>,
                  "kvforge: no codec for the value type; specialise kvforge::codec<Value> with static "
                  "std::string name(), std::string_view encode(const Value&, std::string& scratch) and "
                  "bool decode(std::string_view, Value&)");
    return true;
}

}  // namespace kvforge::detail
