#pragma once
/// \file kvforge.hpp
/// The whole of kvforge: include this one header.

#include "version.hpp"

#include "aliases.hpp"
#include "any_store.hpp"
#include "batch.hpp"
#include "cache/bounded.hpp"
#include "cache/lru.hpp"
#include "cache/read_cache.hpp"
#include "cache/s3fifo.hpp"
#include "codec.hpp"
#include "composition.hpp"
#include "compositions.hpp"
#include "compression/codec.hpp"
#include "compression/compressed.hpp"
#include "concepts.hpp"
#include "copy.hpp"
#include "destroy.hpp"
#include "durability/async_worker.hpp"
#include "durability/buffered.hpp"
#include "durability/sync_each.hpp"
#include "error.hpp"
#include "expiry/expiring.hpp"
#include "index/hash_index.hpp"
#include "index/sorted_index.hpp"
#include "io/posix.hpp"
#include "limits.hpp"
#include "manifest.hpp"
#include "open_store.hpp"
#include "options.hpp"
#include "pinned_value.hpp"
#include "scan_range.hpp"
#include "snapshot.hpp"
#include "stats.hpp"
#include "store.hpp"
#include "stores/file_log.hpp"
#include "stores/memory.hpp"
#include "stores/mmap_file.hpp"
#include "threading/single_thread.hpp"
#include "threading/thread_safe.hpp"

// Compiled mode: what the library kvforge::compiled holds is declared, not compiled here.
#ifdef KVFORGE_COMPILED_LIB
#include "compiled.hpp"
#endif
