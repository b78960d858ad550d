// The explicit instantiation definitions of the configurations instantiated_stores.hpp
// declares: every member each configuration has compiles here, once.

#include "instantiated_stores.hpp"

template class kvforge::store<std::string, std::string>;
template class kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index, kvforge::thread_safe>;
template class kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
template class kvforge::store<std::uint64_t, std::string, kvforge::memory, kvforge::bounded<kvforge::lru>,
                              kvforge::expiring<>>;
template class kvforge::store<std::string, std::string, kvforge::file_log>;
template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::sync_each,
                              kvforge::thread_safe>;
template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>,
                              kvforge::read_cache<>, kvforge::expiring<>>;
template class kvforge::store<std::string, std::string, kvforge::file_log, kvforge::simulated_io,
                              kvforge::read_cache<kvforge::lru>, kvforge::compressed<kvforge_test::run_length<>>>;
template class kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::thread_safe,
                              kvforge::buffered<>, kvforge::compressed<kvforge_test::run_length<>>>;
template class kvforge::store<std::uint64_t, std::string, kvforge::mmap_file, kvforge::async_worker<>>;
