#pragma once
/// \file aliases.hpp
/// Short names for the store configurations most users want, in the spirit of _st/_mt.

#include "index/hash_index.hpp"
#include "index/sorted_index.hpp"
#include "store.hpp"
#include "stores/memory.hpp"
#include "threading/single_thread.hpp"
#include "threading/thread_safe.hpp"

namespace kvforge {

/// In-memory hash store for one thread.
template <class Key, class Value>
using memory_store = store<Key, Value, memory, hash_index, single_thread>;
/// In-memory hash store shared by threads.
template <class Key, class Value>
using memory_store_mt = store<Key, Value, memory, hash_index, thread_safe>;
/// In-memory ordered store (scan, scan_prefix) for one thread.
template <class Key, class Value>
using sorted_memory_store = store<Key, Value, memory, sorted_index, single_thread>;
/// In-memory ordered store shared by threads.
template <class Key, class Value>
using sorted_memory_store_mt = store<Key, Value, memory, sorted_index, thread_safe>;

}  // namespace kvforge
