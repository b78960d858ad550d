#pragma once
/// \file redis_compositions.hpp
/// kvforge::redis_compositions: open_store's default compositions and the redis_cluster ones,
/// so that a spec names a store in a Redis Cluster:
///
///     #include <kvforge/stores/redis_compositions.hpp>   // -lhiredis
///     auto blocks = kvforge::open_store<std::string, std::string, kvforge::redis_compositions>(
///         "redis_cluster,sync_each:10.0.0.5:7000,10.0.0.6:7000/blocks");
///
/// Eight compositions join the default ones: redis_cluster with hash_index, under sync_each
/// or buffered<>, single_thread or thread_safe, with and without expiring<>. A store in a
/// cluster keeps no MANIFEST, so the spec names the store policy; the words it leaves out
/// take kvforge's defaults (buffered, single_thread, no expiry). A program whose specs name
/// only stores in a cluster takes redis_cluster_compositions, and compiles eight stores
/// rather than thirty-eight.

#include "../compositions.hpp"
#include "redis_cluster.hpp"

namespace kvforge {

/// redis_cluster,hash_index with each durability it takes, each threading policy, with and
/// without expiring<>: for a program whose specs name only stores in a cluster.
using redis_cluster_compositions = typename detail::concat_lists<
    composition_product<one_of<redis_cluster>, one_of<hash_index>, one_of<buffered<>, sync_each>,
                        one_of<single_thread, thread_safe>>,
    composition_product<one_of<redis_cluster>, one_of<hash_index>, one_of<buffered<>, sync_each>,
                        one_of<single_thread, thread_safe>, one_of<expiring<>>>>::type;

/// default_compositions and redis_cluster_compositions.
using redis_compositions = typename detail::concat_lists<default_compositions, redis_cluster_compositions>::type;

}  // namespace kvforge
