#pragma once
/// \file open_store.hpp
/// kvforge::open_store: opens the store a spec names, as a kvforge::any_store.
///
///     auto users = kvforge::open_store<std::string, std::string>("file_log,sorted,sync_each:data/users");
///     auto cache = kvforge::open_store<std::string, std::string>("memory,hash");
///     auto again = kvforge::open_store<std::string, std::string>("data/users");  // from its MANIFEST
///
/// The spec's words are read as detail/store_spec.hpp says. A kind the spec leaves out is
/// taken from the store's MANIFEST when it has one, else it is kvforge's default
/// (file_log for a path, memory without; hash_index; buffered; single_thread). The fields
/// of a manifest that bind the bytes on disk (codecs, expiry, compression) must match
/// what opens the store; store, index and durability need not (file_log and mmap_file
/// read the same files, and the index is rebuilt at open).
///
/// Its parts: runtime/erased_store.hpp (a composition behind any_store's erased calls)
/// and runtime/composition_match.hpp (the spec vocabulary, and which composition a spec
/// names).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "any_store.hpp"
#include "codec.hpp"
#include "compositions.hpp"
#include "detail/manifest_file.hpp"
#include "detail/store_spec.hpp"
#include "error.hpp"
#include "io/posix.hpp"
#include "manifest.hpp"
#include "options.hpp"
#include "runtime/composition_match.hpp"
#include "runtime/erased_store.hpp"
#include "store.hpp"

namespace kvforge {

namespace detail {

/// open_store's work: parse, read the manifest, choose, check what binds, open.
template <class Key, class Value, class List>
any_store<Key, Value> open_any_store(std::string_view spec, const options& opts, const codec_choice& codecs,
                                     std::error_code& ec) {
    ec.clear();
    const std::vector<spec_word> vocabulary = vocabulary_of<List>::get();
    parsed_spec parsed;
    if (!parse_store_spec(spec, vocabulary, parsed, ec)) return {};

    composition manifest;
    bool has_manifest = false;
    if (parsed.has_path) {
        posix_io io;
        if (!read_manifest_file(io, parsed.path, manifest, has_manifest, ec)) return {};
    }
    using preference = std::pair<std::string_view, std::string_view>;
    std::vector<preference> preferred = {
        {policy_kind::store::name, has_manifest ? std::string_view(manifest.store) : file_log::name},
        {policy_kind::index::name, has_manifest ? std::string_view(manifest.index) : resolved_policies<>::index::name},
        {policy_kind::durability::name,
         has_manifest ? std::string_view(manifest.durability) : resolved_policies<file_log>::durability::name},
        {policy_kind::threading::name, resolved_policies<>::threading::name},
        // Kinds beyond the four are named as the manifest fields that record them.
        {"expiry", manifest.expiry},
        {"compression", manifest.compression}};
    if (!parsed.has_path) preferred.front().second = resolved_policies<>::store::name;

    const std::vector<composition_words> candidates = entries_of<List>::get();
    const std::size_t chosen = choose_composition(spec, parsed, candidates, preferred, ec);
    if (ec) return {};
    const composition_words& words = candidates[chosen];

    erased_description description;
    composition& opening = description.composition;
    opening.format = has_manifest ? manifest.format : format_version;
    opening.store = std::string(words.on(policy_kind::store::name));
    opening.index = std::string(words.on(policy_kind::index::name));
    opening.durability = std::string(words.on(policy_kind::durability::name));
    opening.key_codec = codecs.key_codec;
    opening.value_codec = codecs.value_codec;
    opening.codec_fingerprint = codecs.fingerprint;
    opening.expiry = std::string(words.recorded("expiry"));
    opening.compression = std::string(words.recorded("compression"));
    if (has_manifest) {
        const std::string difference = first_binding_difference(manifest, opening);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 parsed.path + "/" + std::string(manifest_file_name) + ": " + difference +
                     "; " + open_store_remedy(manifest, opening));
            return {};
        }
    }
    description.threading = std::string(words.on(policy_kind::threading::name));
    description.persistent = words.persistent;
    description.spec = words_of(words) + (parsed.has_path ? ":" + parsed.path : std::string());
    auto opened =
        entries_of<List>::template open<Key, Value>(chosen, std::move(description), parsed.path, opts, codecs, ec);
    if (!opened) return {};
    return store_access::make_any<Key, Value>(std::move(opened));
}

/// Runs f, turning an exception (out of memory) into ec, for the error_code forms.
template <class F>
auto without_exceptions(std::error_code& ec, F&& f) noexcept -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory opening a store");
    } catch (const std::exception& e) {
        fail(ec, errc::codec_failed, e.what());
    }
    return {};
}

/// Opens the store a spec names to read the bytes its files hold, whatever codecs wrote
/// them: the codecs named here stand for Key's and Value's (with Key = Value =
/// std::string, the raw bytes). For kvforge's own tool, which shows and copies any
/// store; users go through open_store, which checks their codecs.
template <class Key, class Value, class List = default_compositions>
any_store<Key, Value> open_store_adopting(std::string_view spec, const options& opts, const codec_choice& codecs,
                                          std::error_code& ec) noexcept {
    return without_exceptions(ec, [&] { return open_any_store<Key, Value, List>(spec, opts, codecs, ec); });
}

}  // namespace detail

/// Opens the store a spec names, e.g. "file_log,sorted,sync_each:data/users" or
/// "memory,hash", or a bare path that opens a store from its MANIFEST. Only the
/// compositions of List are compiled (default: every policy of kvforge). Fails with
/// kvforge::errc::invalid_argument for a spec that names a word kvforge does not know, leaves
/// out what it needs, or contradicts itself, and errc::codec_mismatch when the store's
/// manifest binds it to other codecs; opening errors are those of kvforge::store.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, const options& opts, std::error_code& ec) noexcept {
    return detail::without_exceptions(ec, [&] {
        const detail::codec_choice own{codec<Key>::name(), codec<Value>::name(),
                                       detail::codec_fingerprint(codec<Key>::name(), codec<Value>::name())};
        return detail::open_any_store<Key, Value, List>(spec, opts, own, ec);
    });
}

/// As open_store(spec, opts, ec) with default options.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, std::error_code& ec) noexcept {
    return open_store<Key, Value, List>(spec, options{}, ec);
}

/// As open_store(spec, opts, ec), throwing kvforge::error on failure.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, const options& opts = {}) {
    std::error_code ec;
    any_store<Key, Value> opened = open_store<Key, Value, List>(spec, opts, ec);
    detail::throw_if(ec);
    return opened;
}

}  // namespace kvforge
