#pragma once
/// \file composition_match.hpp
/// The spec vocabulary and the choice among compositions: the words each composition of a
/// list answers to, the composition a parsed spec names (or why none fits), and the
/// advice when a store's MANIFEST binds it to another; and how each composition opens
/// behind the erased calls (erased_store.hpp), reached through composition_openers.hpp.
/// open_store.hpp asks it.

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

#include "../compositions.hpp"
#include "../detail/clocks.hpp"
#include "../detail/manifest_file.hpp"
#include "../detail/policy_pack.hpp"
#include "../detail/store_spec.hpp"
#include "../error.hpp"
#include "../manifest.hpp"
#include "../stores/log/record_format.hpp"
#include "composition_openers.hpp"
#include "erased_store.hpp"

namespace kvforge::detail {

/// The policy a composition names on each axis (spec kinds), for matching a spec.
struct composition_words {
    std::vector<std::pair<std::string_view, std::string_view>> axes;  ///< axis, policy name
    /// axis, MANIFEST field: for a policy whose manifest field is not its name, as
    /// expiring<Clock> records its clock ("system_clock:1/1000000000").
    std::vector<std::pair<std::string_view, std::string>> recorded_as;
    bool persistent = false;

    [[nodiscard]] std::string_view on(std::string_view axis) const noexcept {
        for (const auto& [name_of_axis, policy] : axes) {
            if (name_of_axis == axis) return policy;
        }
        return "none";
    }

    /// What a store of this composition records in its MANIFEST for axis.
    [[nodiscard]] std::string_view recorded(std::string_view axis) const noexcept {
        for (const auto& [name_of_axis, field] : recorded_as) {
            if (name_of_axis == axis) return field;
        }
        return on(axis);
    }
};

template <class P>
inline constexpr bool named_policy = requires {
    { P::name } -> std::convertible_to<std::string_view>;
};

template <class P>
[[nodiscard]] constexpr std::string_view short_name_of() noexcept {
    if constexpr (requires { P::short_name; }) {
        return P::short_name;
    } else {
        return {};
    }
}

/// A kind beyond the four every store has (expiry, compression): a spec axis of its own.
template <class P>
inline constexpr bool extra_axis_policy =
    !policy_of_kind<P, policy_kind::store> && !policy_of_kind<P, policy_kind::index> &&
    !policy_of_kind<P, policy_kind::durability> && !policy_of_kind<P, policy_kind::threading> &&
    !policy_of_kind<P, policy_kind::io>;

/// What open_store needs of one composition of the list.
template <class Pack>
struct composition_traits;
template <class... Ps>
struct composition_traits<policies<Ps...>> {
    using resolved = resolved_policies<Ps...>;
    static_assert(!(policy_of_kind<Ps, policy_kind::io> || ...),
                  "kvforge: open_store opens stores with kvforge::posix_io; remove the I/O policy from the "
                  "composition list");
    static_assert(named_policy<typename resolved::index> && named_policy<typename resolved::threading> &&
                      ((named_policy<Ps> || policy_of_kind<Ps, policy_kind::io>) && ...),
                  "kvforge: every policy of a composition list needs a name, the word a store spec names it by; "
                  "add `static constexpr std::string_view name = \"...\";` to the policy");

    template <class Key, class Value>
    using store_type = store<Key, Value, Ps...>;

    template <class P>
    static constexpr spec_word word_of() noexcept {
        bool persistent = false;
        if constexpr (policy_of_kind<P, policy_kind::store>) persistent = P::persistent;
        return {P::policy_kind::name, P::name, short_name_of<P>(), persistent};
    }

    /// Every policy of the composition, as spec words, the four core kinds first.
    static void add_words(std::vector<spec_word>& words) {
        words.push_back(word_of<typename resolved::store>());
        words.push_back(word_of<typename resolved::index>());
        if constexpr (resolved::store::persistent) words.push_back(word_of<typename resolved::durability>());
        words.push_back(word_of<typename resolved::threading>());
        (
            [&] {
                if constexpr (extra_axis_policy<Ps>) words.push_back(word_of<Ps>());
            }(),
            ...);
    }

    static composition_words describe() {
        composition_words described;
        std::vector<spec_word> words;
        add_words(words);
        for (const spec_word& word : words) described.axes.emplace_back(word.axis, word.name);
        if constexpr (!resolved::store::persistent) {
            described.axes.emplace_back(policy_kind::durability::name, resolved::durability::name);
        }
        (
            [&] {
                if constexpr (extra_axis_policy<Ps> && requires { Ps::manifest_name(); }) {
                    described.recorded_as.emplace_back(Ps::policy_kind::name, Ps::manifest_name());
                }
            }(),
            ...);
        described.persistent = resolved::store::persistent;
        return described;
    }

    template <class Key, class Value>
    static std::unique_ptr<erased_store<Key, Value>> open(erased_description description, std::string_view path,
                                                          const options& opts, const codec_choice& codecs,
                                                          std::error_code& ec) {
        using erased_type = erased_store_impl<store_type<Key, Value>>;
        description.ordered = resolved::index::ordered;
        description.sequenced = store_type<Key, Value>::sequenced;
        description.batches_of_any_keys = store_type<Key, Value>::batches_of_any_keys();
        auto opened = std::make_unique<erased_type>(std::move(description));
        opened->open(path, opts, codecs, ec);
        if (ec) return nullptr;
        return opened;
    }
};

/// The spec words of kvforge's own policies and of every policy in List, grouped by axis
/// (store, index, durability, threading, then other kinds in the order met), each once.
template <class List>
struct vocabulary_of;
template <class... Packs>
struct vocabulary_of<composition_list<Packs...>> {
    template <class... Defaults>
    static void add_packs(std::vector<spec_word>& words, composition_list<Defaults...>) {
        (composition_traits<Defaults>::add_words(words), ...);
    }

    static std::vector<spec_word> get() {
        std::vector<spec_word> met;
        add_packs(met, default_compositions{});
        (composition_traits<Packs>::add_words(met), ...);
        std::vector<std::string_view> axes = {policy_kind::store::name, policy_kind::index::name,
                                              policy_kind::durability::name, policy_kind::threading::name};
        for (const spec_word& word : met) {
            if (std::find(axes.begin(), axes.end(), word.axis) == axes.end()) axes.push_back(word.axis);
        }
        std::vector<spec_word> words;
        for (const std::string_view axis : axes) {
            for (const spec_word& word : met) {
                const bool seen = std::any_of(words.begin(), words.end(), [&](const spec_word& w) {
                    return w.axis == word.axis && w.name == word.name;
                });
                if (word.axis == axis && !seen) words.push_back(word);
            }
        }
        return words;
    }
};

/// The composition each entry of List names, in list order.
template <class List>
struct entries_of;
template <class... Packs>
struct entries_of<composition_list<Packs...>> {
    static std::vector<composition_words> get() { return {composition_traits<Packs>::describe()...}; }

    template <class Key, class Value>
    static std::unique_ptr<erased_store<Key, Value>> open(std::size_t index, erased_description description,
                                                          std::string_view path, const options& opts,
                                                          const codec_choice& codecs, std::error_code& ec) {
        return composition_opener_at<Key, Value, composition_list<Packs...>>(index)(std::move(description), path,
                                                                                 opts, codecs, ec);
    }
};

/// "file_log,sorted_index,buffered,single_thread": a composition's words, every kind spelled out.
[[nodiscard]] inline std::string words_of(const composition_words& entry) {
    std::string text;
    for (const auto& [axis, name] : entry.axes) {
        if (name == "none") continue;
        if (!text.empty()) text += ',';
        text.append(name);
    }
    return text;
}

/// Why no candidate fits a spec: the word that no composition has beside the spec's other
/// words, and the compositions that have those others, so that the message names what to
/// change rather than listing every composition.
[[nodiscard]] inline std::string no_composition_fits(std::string_view spec, const parsed_spec& parsed,
                                                     const std::vector<composition_words>& candidates) {
    const std::string start = "store spec '" + std::string(spec) + "': no composition this program was built with has ";
    const std::string extend =
        "; or add a composition to the list the program passes to kvforge::open_store (see kvforge/compositions.hpp)";
    // A word without which some composition fits: name it, and what goes with the others.
    for (const auto& [axis, name] : parsed.chosen) {
        std::string others;
        std::string listed;
        for (const auto& [other_axis, other_name] : parsed.chosen) {
            if (other_axis == axis) continue;
            others += others.empty() ? "" : ",";
            others.append(other_name);
        }
        for (const composition_words& candidate : candidates) {
            if (candidate.persistent != parsed.has_path) continue;
            bool fits = true;
            for (const auto& [other_axis, other_name] : parsed.chosen) {
                fits = fits && (other_axis == axis || candidate.on(other_axis) == other_name);
            }
            if (!fits) continue;
            listed += listed.empty() ? "" : "; ";
            listed += words_of(candidate);
        }
        if (listed.empty()) continue;
        return start + std::string(axis) + " '" + std::string(name) + "'" +
               (others.empty() ? std::string() : " together with " + others) + "; drop '" + std::string(name) +
               "' or name one of: " + listed + extend;
    }
    std::size_t fitting_kind = 0;
    for (const composition_words& candidate : candidates) fitting_kind += candidate.persistent == parsed.has_path;
    return start + (parsed.has_path ? "files" : "no files") + " and these words (of its " +
           std::to_string(fitting_kind) + " compositions for this kind of store, none has two of them together)" +
           extend;
}

/// Picks the composition of candidates a spec names. The spec's words must match; a kind
/// it leaves out prefers the manifest's policy (when a manifest was found), else kvforge's
/// default; ties go to the earlier candidate. Expiry and compression weigh most (they bind
/// the bytes on disk), then store, index, durability and threading.
[[nodiscard]] inline std::size_t choose_composition(std::string_view spec, const parsed_spec& parsed,
                                                    const std::vector<composition_words>& candidates,
                                                    const std::vector<std::pair<std::string_view, std::string_view>>& preferred,
                                                    std::error_code& ec) {
    auto weight = [](std::string_view axis) -> unsigned {
        if (axis == policy_kind::store::name) return 8;
        if (axis == policy_kind::index::name) return 4;
        if (axis == policy_kind::durability::name) return 2;
        if (axis == policy_kind::threading::name) return 1;
        return 16;
    };
    std::size_t best = candidates.size();
    unsigned best_score = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const composition_words& candidate = candidates[i];
        if (candidate.persistent != parsed.has_path) continue;
        bool fits = true;
        for (const auto& [axis, name] : parsed.chosen) fits = fits && candidate.on(axis) == name;
        if (!fits) continue;
        unsigned score = 0;
        for (const auto& [axis, name] : preferred) {
            if (parsed.choice(axis).empty() && candidate.recorded(axis) == name) score += weight(axis);
        }
        if (best == candidates.size() || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    if (best == candidates.size()) {
        fail(ec, errc::invalid_argument, no_composition_fits(spec, parsed, candidates));
    }
    return best;
}

/// What to do when open_store cannot read a store: a compressed one needs a composition
/// with its codec, which the default list has not (it links no compression library).
[[nodiscard]] inline std::string open_store_remedy(const composition& on_disk, const composition& opening) {
    if (first_binding_difference(on_disk, opening).starts_with("compression") && on_disk.compression != "none") {
        return "pass open_store a composition list with kvforge::compressed<Codec> of a codec whose name is '" +
               on_disk.compression +
               "' (kvforge::compressed_compositions of <kvforge/compression/compositions.hpp> has kvforge's "
               "codecs), or open it as a kvforge::store with that codec";
    }
    return binding_remedy(on_disk, opening) + " (and the spec words that name them)";
}

}  // namespace kvforge::detail
