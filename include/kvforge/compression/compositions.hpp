#pragma once
/// \file compression/compositions.hpp
/// kvforge::compressed_compositions: open_store's default compositions and the compressed
/// ones, so that a store written with any of kvforge's codecs opens from its path or a
/// spec that names its codec:
///
///     #include <kvforge/compression/compositions.hpp>   // -lzstd -llz4
///     auto docs = kvforge::open_store<std::string, std::string, kvforge::compressed_compositions>(
///         "file_log,zstd:data/docs");                       // or just "data/docs"
///
/// Six compositions join the default ones: file_log with a sorted index, under
/// compressed<zstd<3>>, compressed<lz4> or compressed<zstd_trained<>>, with and without
/// expiring<>. Those are enough to open every store kvforge's codecs wrote: the
/// compression level is a setting, not a format; file_log and mmap_file read the same
/// files; a sorted index serves every call a hash index does (and is rebuilt at each
/// open); durability and threading bind nothing on disk. A program that needs another
/// compressed composition (mmap_file, a hash index, thread_safe) names it in its own list.
/// Each composition costs build time where open_store is instantiated, so this list adds
/// six rather than the product of every policy with every codec.

#include "../compositions.hpp"
#include "compressed.hpp"
#include "lz4.hpp"
#include "zstd.hpp"
#include "zstd_trained.hpp"

namespace kvforge {

/// default_compositions and file_log,sorted_index with each of kvforge's codecs, with
/// and without expiring<>.
using compressed_compositions = typename detail::concat_lists<
    default_compositions,
    composition_product<one_of<file_log>, one_of<sorted_index>,
                        one_of<compressed<zstd<3>>, compressed<lz4>, compressed<zstd_trained<>>>>,
    composition_list<policies<file_log, sorted_index, compressed<zstd<3>>, expiring<>>,
                     policies<file_log, sorted_index, compressed<lz4>, expiring<>>,
                     policies<file_log, sorted_index, compressed<zstd_trained<>>, expiring<>>>>::type;

}  // namespace kvforge
