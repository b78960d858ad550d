#pragma once
/// \file compression/zstd_trained.hpp
/// kvforge::zstd_trained<Level>: zstd with dictionaries the store trains from its own
/// values and keeps in its directory. Needs libzstd, as <kvforge/compression/zstd.hpp> does.
///
///     using docs = kvforge::store<std::string, std::string, kvforge::file_log,
///                                 kvforge::compressed<kvforge::zstd_trained<3>>>;
///
/// Small values compress poorly one at a time; a dictionary trained from values like
/// them gives each the history it lacks. zstd_dictionary<> (zstd_dictionary.hpp) is one a
/// user trains and keeps; with zstd_trained the store does both, hence the name.
///
/// When it trains. Each compact() walks the live values after compacting and samples
/// every n-th one (n = live values / sample_count, at least 1), up to sample_budget bytes
/// (4 MiB). When the sample holds at least training_min_bytes (1 MiB, about 5,000 values of
/// 200 bytes), it trains a new dictionary of at most dictionary_capacity bytes (100 KiB)
/// and compresses new values with it, when it makes the sample at least a tenth smaller
/// than zstd alone (random bytes give a dictionary that only costs time); until the
/// first, values are compressed without one. Training runs in compact()'s thread and
/// takes time in proportion to the sample, beside a compaction that rewrites the whole
/// store. Automatic compaction copies records and trains nothing.
///
/// Records. A compressed value's codec bytes start with the number of the dictionary it
/// needs, as a varint (0: none), then a zstd frame that does not repeat zstd's own id of
/// the dictionary (4 bytes saved per value). A value is never re-encoded: a record keeps
/// the dictionary it was written with.
///
/// Files. Dictionary n is dictionary-<n, ten digits>.zstd in the store's directory: a
/// magic line, zstd's dictionary bytes, and a CRC32C of both (4 bytes, little-endian). It
/// is written through a .tmp, fdatasync, a rename and a directory fsync, and never changed.
/// An open loads every dictionary file; the highest number compresses new values. A file
/// that fails its checksum fails the open (errc::corrupt_header naming it); a value whose
/// dictionary is missing fails its read (errc::corrupt_record naming the file): a wrong
/// value is never handed out. backup() copies the files; destroy() removes them.
///
/// Retiring. So that the files do not pile up, compact() removes a dictionary's file when
/// no live value needs it (a store keeps one file for each compact() whose values are still
/// live, the newest always): the
/// dictionary is not the newest, no write holds it (each write holds the dictionary it
/// compressed with until the write returns, so a late record cannot appear), and the walk
/// found no value compressed with it. The store is synced before the file goes, so a
/// crash cannot bring back a record that needs it. Retired dictionaries stay in memory
/// until the store closes: a read that fetched such a record before it was overwritten,
/// and snapshots, still decode it.

#include <zdict.h>
#include <zstd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../detail/byte_order.hpp"
#include "../detail/crc32c.hpp"
#include "../detail/data_file.hpp"
#include "../detail/retry.hpp"
#include "../detail/store_directory.hpp"
#include "../detail/store_files.hpp"
#include "../error.hpp"
#include "codec.hpp"
#include "zstd.hpp"
#include "zstd_dictionary.hpp"

namespace kvforge {
namespace detail {

/// The first bytes of a dictionary file.
inline constexpr std::string_view trained_dictionary_magic = "kvforge zstd dictionary 1\n";

/// A dictionary file's bytes: the magic line, the dictionary, a CRC32C of both.
[[nodiscard]] inline std::string trained_dictionary_file(std::string_view dictionary) {
    std::string file(trained_dictionary_magic);
    file.append(dictionary);
    const std::uint32_t crc = crc32c(file);
    for (int shift = 0; shift < 32; shift += 8) file.push_back(static_cast<char>((crc >> shift) & 0xff));
    return file;
}

/// The dictionary inside a dictionary file's bytes; false when the file is cut short,
/// is not one, or fails its checksum.
[[nodiscard]] inline bool parse_trained_dictionary_file(std::string_view file, std::string_view& dictionary) {
    if (file.size() < trained_dictionary_magic.size() + 4 ||
        file.substr(0, trained_dictionary_magic.size()) != trained_dictionary_magic) {
        return false;
    }
    const std::string_view covered = file.substr(0, file.size() - 4);
    std::uint32_t stored = 0;
    for (std::size_t i = 4; i-- > 0;) stored = (stored << 8) | static_cast<unsigned char>(file[covered.size() + i]);
    if (stored != crc32c(covered)) return false;
    dictionary = covered.substr(trained_dictionary_magic.size());
    return true;
}

/// This thread's compression context for trained frames, kept apart from zstd<>'s because
/// its parameters stick: frames without zstd's dictionary id.
[[nodiscard]] inline ZSTD_CCtx& zstd_trained_compression_context() {
    thread_local std::unique_ptr<ZSTD_CCtx, zstd_compression_context_deleter> context;
    if (!context) {
        context.reset(ZSTD_createCCtx());
        if (!context) throw std::bad_alloc();
        zstd_checked(ZSTD_CCtx_setParameter(context.get(), ZSTD_c_dictIDFlag, 0), "set parameters");
    }
    return *context;
}

/// A dictionary the store trained: its number (its file's), its bytes, prepared for both ways.
struct trained_dictionary {
    std::uint32_t number = 0;
    std::unique_ptr<ZSTD_CDict, zstd_cdict_deleter> compression;
    std::unique_ptr<ZSTD_DDict, zstd_ddict_deleter> decompression;
};

/// The dictionaries of one open store, shared by its codec and its snapshots' codecs.
struct trained_dictionaries {
    mutable std::shared_mutex mutex;
    /// Every dictionary loaded or trained since the open, retired ones included.
    std::map<std::uint32_t, std::shared_ptr<const trained_dictionary>> loaded;
    /// The numbers whose files are in the directory.
    std::vector<std::uint32_t> on_disk;
    /// The newest: what new values are compressed with; null before the first.
    std::shared_ptr<const trained_dictionary> newest;
    /// Orders compact()'s training and retiring and backup(), which must not lose a file it copies.
    std::mutex maintenance;
    std::string directory;
};

/// Prepares dictionary bytes at level; throws std::runtime_error when zstd cannot.
[[nodiscard]] inline std::shared_ptr<const trained_dictionary> prepare_trained_dictionary(std::uint32_t number,
                                                                                          std::string_view bytes,
                                                                                          int level) {
    auto prepared = std::make_shared<trained_dictionary>();
    prepared->number = number;
    prepared->compression.reset(ZSTD_createCDict(bytes.data(), bytes.size(), level));
    prepared->decompression.reset(ZSTD_createDDict(bytes.data(), bytes.size()));
    if (!prepared->compression || !prepared->decompression) throw std::runtime_error("zstd cannot prepare it");
    return prepared;
}

}  // namespace detail

/// The Zstandard codec with dictionaries the store trains from its own values, at a level
/// from 1 (fastest) to 22 (smallest), for kvforge::compressed<> on file_log and mmap_file,
/// and on disk_index, whose tables' blocks it compresses (the header comment says when it
/// trains and how it keeps the dictionaries). Copies share
/// the dictionaries: a snapshot's codec reads what the store's wrote.
template <int Level = ZSTD_CLEVEL_DEFAULT>
class zstd_trained {
    static_assert(detail::valid_zstd_level(Level),
                  "kvforge: zstd_trained<Level> takes a level from 1 (fastest) to 22 (smallest); use "
                  "zstd_trained<3>, zstd's default, when unsure");

public:
    /// The format's name in the MANIFEST: records name a dictionary, so zstd<> cannot read them.
    static constexpr std::string_view name = "zstd-trained";
    static constexpr int level = Level;
    /// The most bytes a trained dictionary takes; zstd's advice for small values is about 100 KiB.
    static constexpr std::size_t dictionary_capacity = 100 * 1024;
    /// The most bytes of values a training reads.
    static constexpr std::size_t sample_budget = std::size_t{4} << 20;
    /// The most values a training reads: every (live values / this)-th one is taken.
    static constexpr std::size_t sample_count = 50'000;
    /// The fewest bytes of live values a training needs; fewer, and compact() trains nothing.
    static constexpr std::size_t training_min_bytes = std::size_t{1} << 20;
    /// How many samples a new dictionary is tried on before it is kept.
    static constexpr std::size_t pays_off_samples = 500;

    zstd_trained() : state_(std::make_shared<detail::trained_dictionaries>()) {}

    /// Compresses with the dictionary it holds from its making until the write returns:
    /// what a compressed store encodes a write's values with, so that no dictionary is
    /// retired while a record that needs it is on its way to the log.
    class compressor {
    public:
        static constexpr std::string_view name = zstd_trained::name;
        explicit compressor(std::shared_ptr<const detail::trained_dictionary> dictionary)
            : dictionary_(std::move(dictionary)) {}
        [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept {
            return detail::max_varint_size + ZSTD_compressBound(size);
        }
        std::size_t compress(std::string_view input, char* output, std::size_t capacity) const {
            const std::uint32_t number = dictionary_ ? dictionary_->number : 0;
            const std::size_t prefix = static_cast<std::size_t>(detail::put_varint(output, number) - output);
            ZSTD_CCtx& context = detail::zstd_trained_compression_context();
            detail::zstd_checked(ZSTD_CCtx_setParameter(&context, ZSTD_c_compressionLevel, Level), "set the level");
            detail::zstd_checked(ZSTD_CCtx_refCDict(&context, dictionary_ ? dictionary_->compression.get() : nullptr),
                                 "use the dictionary");
            return prefix + detail::zstd_checked(ZSTD_compress2(&context, output + prefix, capacity - prefix,
                                                                input.data(), input.size()),
                                                 "compress");
        }
        /// Unused: a store decompresses through zstd_trained.
        std::size_t decompress(std::string_view, char*, std::size_t) const {
            throw std::logic_error("zstd_trained::compressor does not decompress");
        }

    private:
        std::shared_ptr<const detail::trained_dictionary> dictionary_;
    };

    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept {
        return detail::max_varint_size + ZSTD_compressBound(size);
    }

    /// Compresses with the newest dictionary (or none before the first).
    std::size_t compress(std::string_view input, char* output, std::size_t capacity) const {
        return writer().compress(input, output, capacity);
    }

    /// Decompresses a value compress wrote, with the dictionary it names; throws when the
    /// dictionary is not loaded or the frame is damaged.
    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        std::uint64_t number = 0;
        const char* frame = detail::get_varint(input.data(), input.data() + input.size(), number);
        if (frame == nullptr) throw std::runtime_error("zstd-trained: the dictionary number is cut short");
        const std::string_view rest(frame, static_cast<std::size_t>(input.data() + input.size() - frame));
        ZSTD_DCtx& context = detail::zstd_decompression_context();
        if (number == 0) {
            return detail::zstd_checked(ZSTD_decompressDCtx(&context, output, size, rest.data(), rest.size()),
                                        "decompress");
        }
        const std::shared_ptr<const detail::trained_dictionary> dictionary = find(number);
        if (!dictionary) throw std::runtime_error("zstd-trained: dictionary " + std::to_string(number) + " is missing");
        return detail::zstd_checked(ZSTD_decompress_usingDDict(&context, output, size, rest.data(), rest.size(),
                                                               dictionary->decompression.get()),
                                    "decompress with a dictionary");
    }

    /// What a write compresses its values with: the newest dictionary, held by the compressor.
    [[nodiscard]] compressor writer() const {
        const std::shared_lock lock(state_->mutex);
        return compressor(state_->newest);
    }

    /// After a read failed: errc::corrupt_record naming the file when the value's dictionary
    /// is missing (its file was removed or never copied), else failed as it is.
    void explain_failure(std::string_view compressed, std::error_code& failed) const {
        std::error_code ignored;
        const std::size_t size = compressed_value_size(compressed, ignored);
        if (ignored) return;
        const std::string_view bytes = compressed.substr(detail::varint_size(size));
        std::uint64_t number = 0;
        if (detail::get_varint(bytes.data(), bytes.data() + bytes.size(), number) == nullptr || number == 0 ||
            number > UINT32_MAX || find(number)) {
            return;
        }
        detail::fail(failed, errc::corrupt_record,
                     "a value needs the compression dictionary " + state_->directory + "/" +
                         detail::store_file_name::dictionary(static_cast<std::uint32_t>(number)).str() +
                         ", which is missing; restore the file from a backup (the value is not returned)");
    }

    /// Loads every dictionary file of the store in directory: the highest number compresses
    /// new values. Starts afresh: snapshots of an earlier open keep the dictionaries they had.
    template <class Io>
    void open(Io& io, std::string_view directory, std::error_code& ec) {
        state_ = std::make_shared<detail::trained_dictionaries>();
        state_->directory = std::string(directory);
        load_new(io, ec);
    }

    /// A read-only store's refresh() calls this before it reads on (compressed.hpp): loads
    /// the dictionaries the writer beside it trained since, which its new values may need.
    template <class Io>
    void catch_up(Io& io, std::error_code& ec) {
        load_new(io, ec);
    }

    /// compact()'s part, after the store compacted: retires the dictionaries no live value
    /// needs and trains a new one when the header comment says. walk(visitor, ec) calls
    /// visitor(compressed, value) for each of the about live_values live values:
    /// compressed is compress_value's output (empty for a value kept raw), value() gives
    /// the value. sync(ec) makes every write so far durable.
    template <class Io, class Walk, class Sync>
    void maintain(Io& io, std::size_t live_values, Walk&& walk, Sync&& sync, std::error_code& ec) {
        detail::trained_dictionaries& state = *state_;
        const std::lock_guard maintenance(state.maintenance);
        // Retirable: not the newest and held by no write. No write can take one later.
        std::map<std::uint32_t, std::uint64_t> uses;
        {
            const std::shared_lock lock(state.mutex);
            const std::uint32_t newest = state.newest ? state.newest->number : 0;
            for (const std::uint32_t number : state.on_disk) {
                if (number != newest && state.loaded.at(number).use_count() == 1) uses[number] = 0;
            }
        }
        std::string samples;
        std::vector<std::size_t> sample_sizes;
        const std::size_t stride = std::max<std::size_t>(1, live_values / sample_count);
        std::uint64_t seen = 0;
        walk(
            [&](std::string_view compressed, auto&& value) {
                if (const auto counted = uses.find(dictionary_of(compressed)); counted != uses.end()) {
                    ++counted->second;
                }
                if (seen++ % stride != 0 || samples.size() >= sample_budget) return;
                const std::string_view sample = value();
                samples.append(sample);
                sample_sizes.push_back(sample.size());
            },
            ec);
        if (ec) return;
        retire(io, uses, sync, ec);
        if (ec) return;
        if (samples.size() >= training_min_bytes) train(io, samples, sample_sizes, ec);
    }

    /// Holds off retiring while a backup copies the store's files.
    [[nodiscard]] std::unique_lock<std::mutex> hold_files() const {
        return std::unique_lock<std::mutex>(state_->maintenance);
    }

private:
    [[nodiscard]] std::shared_ptr<const detail::trained_dictionary> find(std::uint64_t number) const {
        const std::shared_lock lock(state_->mutex);
        const auto found = state_->loaded.find(static_cast<std::uint32_t>(number));
        return found == state_->loaded.end() ? nullptr : found->second;
    }

    /// The dictionary a compress_value output names; 0 for none, or for a raw value (empty).
    [[nodiscard]] static std::uint32_t dictionary_of(std::string_view compressed) noexcept {
        if (compressed.empty()) return 0;
        std::uint64_t size = 0;
        std::uint64_t number = 0;
        const char* end = compressed.data() + compressed.size();
        const char* p = detail::get_varint(compressed.data(), end, size);
        if (p == nullptr || detail::get_varint(p, end, number) == nullptr || number > UINT32_MAX) return 0;
        return static_cast<std::uint32_t>(number);
    }

    std::string file_path(const detail::store_file_name& file) const { return state_->directory + "/" + file.str(); }

    /// Loads every dictionary file in the directory not loaded yet; the highest number
    /// compresses new values.
    template <class Io>
    void load_new(Io& io, std::error_code& ec) {
        std::vector<std::string> entries;
        if (io.list_directory(state_->directory.c_str(), entries) != 0) {
            detail::fail_errno(ec, errno, "list " + state_->directory);
            return;
        }
        for (const std::string& entry : entries) {
            const std::optional<detail::store_file_name> file = detail::store_file_name::recognise(entry);
            if (!file || file->kind() != detail::store_file_kind::dictionary || file->is_temporary()) continue;
            {
                const std::shared_lock lock(state_->mutex);
                if (state_->loaded.contains(file->generation())) continue;
            }
            if (!load(io, *file, ec)) return;
        }
        const std::unique_lock lock(state_->mutex);
        std::sort(state_->on_disk.begin(), state_->on_disk.end());
        if (!state_->loaded.empty()) state_->newest = state_->loaded.rbegin()->second;
    }

    template <class Io>
    bool load(Io& io, const detail::store_file_name& file, std::error_code& ec) {
        const std::string path = file_path(file);
        detail::data_file<Io> in;
        std::uint64_t size = 0;
        if (!in.open(io, path, O_RDONLY, ec) || !in.size(size, ec)) return false;
        std::string bytes(static_cast<std::size_t>(size), '\0');
        if (!in.read(0, bytes.data(), bytes.size(), ec)) return false;
        std::string_view dictionary;
        if (!detail::parse_trained_dictionary_file(bytes, dictionary)) {
            detail::fail(ec, errc::corrupt_header,
                         path +
                             " is damaged (cut short, or it fails its checksum); the values compressed with it "
                             "cannot be read: restore the file from a backup");
            return false;
        }
        std::shared_ptr<const detail::trained_dictionary> prepared;
        try {
            prepared = detail::prepare_trained_dictionary(file.generation(), dictionary, Level);
        } catch (const std::runtime_error& e) {
            detail::fail(ec, errc::corrupt_header, path + ": " + e.what());
            return false;
        }
        const std::unique_lock lock(state_->mutex);
        state_->loaded[file.generation()] = std::move(prepared);
        state_->on_disk.push_back(file.generation());
        return true;
    }

    /// Removes the files of the candidates no value used, once the store is durable.
    template <class Io, class Sync>
    void retire(Io& io, const std::map<std::uint32_t, std::uint64_t>& uses, Sync& sync, std::error_code& ec) {
        std::vector<std::uint32_t> unused;
        for (const auto& [number, count] : uses) {
            if (count == 0) unused.push_back(number);
        }
        if (unused.empty()) return;
        sync(ec);
        if (ec) return;
        for (const std::uint32_t number : unused) {
            const std::string path = file_path(detail::store_file_name::dictionary(number));
            if (io.unlink(path.c_str()) != 0 && errno != ENOENT) {
                detail::fail_errno(ec, errno, "remove " + path);
                return;
            }
            const std::unique_lock lock(state_->mutex);
            std::erase(state_->on_disk, number);
        }
        sync_directory(io, ec);
    }

    /// Trains a dictionary from the samples and makes it the newest, its file durable first.
    /// Samples zstd cannot train from leave the store as it was: that is no error of compact().
    template <class Io>
    void train(Io& io, const std::string& samples, const std::vector<std::size_t>& sizes, std::error_code& ec) {
        std::string dictionary(std::min(dictionary_capacity, samples.size() / 10), '\0');
        const std::size_t size = ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(), samples.data(),
                                                       sizes.data(), static_cast<unsigned>(sizes.size()));
        if (ZDICT_isError(size) != 0) return;
        dictionary.resize(size);
        std::uint32_t number = 1;
        {
            const std::shared_lock lock(state_->mutex);
            if (!state_->loaded.empty()) number = state_->loaded.rbegin()->first + 1;
        }
        std::shared_ptr<const detail::trained_dictionary> prepared;
        try {
            prepared = detail::prepare_trained_dictionary(number, dictionary, Level);
            if (!pays_off(prepared, samples, sizes)) return;
        } catch (const std::runtime_error&) {
            return;
        }
        const detail::store_file_name file = detail::store_file_name::dictionary(number);
        const std::string path = file_path(file);
        const std::string tmp = file_path(file.temporary());
        detail::data_file<Io> out;
        if (!out.open(io, tmp, O_WRONLY | O_CREAT | O_TRUNC, ec) ||
            !out.write(0, detail::trained_dictionary_file(dictionary), ec) || !out.sync(ec)) {
            return;
        }
        out.close();
        if (io.rename(tmp.c_str(), path.c_str()) != 0) {
            detail::fail_errno(ec, errno, "rename " + tmp + " to " + path);
            return;
        }
        if (!sync_directory(io, ec)) return;
        const std::unique_lock lock(state_->mutex);
        state_->loaded[number] = prepared;
        state_->on_disk.push_back(number);
        state_->newest = std::move(prepared);
    }

    /// Whether the dictionary makes up to pays_off_samples of the samples at least a tenth
    /// smaller than zstd alone does. From values that share nothing (random bytes) zstd
    /// still trains a dictionary, which would cost every write time and gain nothing.
    static bool pays_off(const std::shared_ptr<const detail::trained_dictionary>& dictionary,
                         const std::string& samples, const std::vector<std::size_t>& sizes) {
        const compressor with(dictionary);
        const compressor without(nullptr);
        const std::size_t step = std::max<std::size_t>(1, sizes.size() / pays_off_samples);
        std::string out;
        std::size_t with_bytes = 0;
        std::size_t without_bytes = 0;
        std::size_t at = 0;
        for (std::size_t i = 0; i < sizes.size(); at += sizes[i++]) {
            if (i % step != 0) continue;
            const std::string_view sample(samples.data() + at, sizes[i]);
            out.resize(with.max_compressed_size(sample.size()));
            with_bytes += with.compress(sample, out.data(), out.size());
            without_bytes += without.compress(sample, out.data(), out.size());
        }
        return with_bytes * 10 < without_bytes * 9;
    }

    template <class Io>
    bool sync_directory(Io& io, std::error_code& ec) const {
        return detail::sync_directory(io, state_->directory, ec);
    }

    std::shared_ptr<detail::trained_dictionaries> state_;
};

}  // namespace kvforge
