#pragma once
// Store configurations compiled once, in instantiated_stores.cpp, by an explicit
// instantiation definition: together they name every store, index, durability, threading,
// I/O, cache, expiry and compression policy. The explicit instantiation declarations below
// keep a translation unit that includes this header from compiling their members again, as
// docs/guide.md ("Compiling a store once") tells users to do.

#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <string>

#include "run_length_codec.hpp"

namespace kvforge_test::instantiated {

using memory_hash = kvforge::store<std::string, std::string>;
using memory_sorted_shared =
    kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index, kvforge::thread_safe>;
using memory_bounded = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
using memory_bounded_lru_expiring =
    kvforge::store<std::uint64_t, std::string, kvforge::memory, kvforge::bounded<kvforge::lru>, kvforge::expiring<>>;
using file_log_hash = kvforge::store<std::string, std::string, kvforge::file_log>;
using file_log_sorted_sync_shared = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index,
                                                   kvforge::sync_each, kvforge::thread_safe>;
using file_log_async_cached_expiring =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>, kvforge::read_cache<>,
                   kvforge::expiring<>>;
using file_log_simulated_compressed =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::simulated_io,
                   kvforge::read_cache<kvforge::lru>, kvforge::compressed<run_length<>>>;
using mmap_sorted_shared_compressed =
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::thread_safe,
                   kvforge::buffered<>, kvforge::compressed<run_length<>>>;
using mmap_hash_async = kvforge::store<std::uint64_t, std::string, kvforge::mmap_file, kvforge::async_worker<>>;

}  // namespace kvforge_test::instantiated

extern template class kvforge::store<std::string, std::string>;
extern template class kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index,
                                     kvforge::thread_safe>;
extern template class kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
extern template class kvforge::store<std::uint64_t, std::string, kvforge::memory, kvforge::bounded<kvforge::lru>,
                                     kvforge::expiring<>>;
extern template class kvforge::store<std::string, std::string, kvforge::file_log>;
extern template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index,
                                     kvforge::sync_each, kvforge::thread_safe>;
extern template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>,
                                     kvforge::read_cache<>, kvforge::expiring<>>;
extern template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::simulated_io,
                                     kvforge::read_cache<kvforge::lru>,
                                     kvforge::compressed<kvforge_test::run_length<>>>;
extern template class kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                     kvforge::thread_safe, kvforge::buffered<>,
                                     kvforge::compressed<kvforge_test::run_length<>>>;
extern template class kvforge::store<std::uint64_t, std::string, kvforge::mmap_file, kvforge::async_worker<>>;
