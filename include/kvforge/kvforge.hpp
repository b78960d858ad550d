#pragma once
/// \file kvforge.hpp
/// The whole of kvforge: include this one header.

#include "version.hpp"

#include "aliases.hpp"
#include "batch.hpp"
#include "codec.hpp"
#include "concepts.hpp"
#include "destroy.hpp"
#include "durability/async_worker.hpp"
#include "durability/buffered.hpp"
#include "durability/sync_each.hpp"
#include "error.hpp"
#include "index/hash_index.hpp"
#include "index/sorted_index.hpp"
#include "io/posix.hpp"
#include "limits.hpp"
#include "options.hpp"
#include "pinned_value.hpp"
#include "scan_range.hpp"
#include "stats.hpp"
#include "store.hpp"
#include "stores/file_log.hpp"
#include "stores/memory.hpp"
#include "stores/mmap_file.hpp"
#include "threading/single_thread.hpp"
#include "threading/thread_safe.hpp"
