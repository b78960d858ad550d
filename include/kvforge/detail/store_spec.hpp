#pragma once
/// \file store_spec.hpp
/// Reading a store spec, the text that names a composition and a path at run time:
///
///     words[:path]     e.g. "file_log,sorted,sync_each:data/users", "memory,hash", ":data/users"
///     path             a bare path (no ':', no ','), e.g. "data/users"
///
/// Words are separated by commas (spaces around them are ignored); each names a policy
/// by its name or short name, and so the kind (axis) it chooses. Everything after the
/// first ':' is the path, as it is, so a path may hold ':' and ','. A spec without ':'
/// is words when it holds a ',' or is one known word, and a bare path otherwise.
///
/// Errors are kvforge::errc::invalid_argument with a message that quotes the spec and names
/// the fix; nothing here touches the file system.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../concepts.hpp"
#include "../error.hpp"

namespace kvforge::detail {

/// A word a spec may use: a policy's name and short name, and the axis (its kind) it chooses.
struct spec_word {
    std::string_view axis;        ///< e.g. "index"
    std::string_view name;        ///< e.g. "sorted_index"
    std::string_view short_name;  ///< e.g. "sorted"; empty when the policy has none
    bool persistent = false;      ///< for store words: whether the store keeps its records on disk
};

/// What a spec says: the policy named on each axis it names (views into the vocabulary),
/// and the path.
struct parsed_spec {
    std::vector<std::pair<std::string_view, std::string_view>> chosen;  ///< axis, policy name
    std::string path;
    bool has_path = false;

    /// The policy named on axis, or empty when the spec leaves that kind out.
    [[nodiscard]] std::string_view choice(std::string_view axis) const noexcept {
        for (const auto& [chosen_axis, name] : chosen) {
            if (chosen_axis == axis) return name;
        }
        return {};
    }
};

/// "store: memory, file_log, mmap_file (or mmap); index: ..." for error messages.
[[nodiscard]] inline std::string describe_vocabulary(const std::vector<spec_word>& vocabulary) {
    std::string text;
    std::string_view axis;
    for (const spec_word& word : vocabulary) {
        if (word.axis != axis) {
            if (!axis.empty()) text += "; ";
            axis = word.axis;
            text.append(axis).append(": ");
        } else {
            text += ", ";
        }
        text.append(word.name);
        if (!word.short_name.empty()) text.append(" (or ").append(word.short_name).append(")");
    }
    return text;
}

/// The word of the vocabulary that text names, or nullptr.
[[nodiscard]] inline const spec_word* find_spec_word(const std::vector<spec_word>& vocabulary,
                                                     std::string_view text) noexcept {
    for (const spec_word& word : vocabulary) {
        if (word.name == text || (!word.short_name.empty() && word.short_name == text)) return &word;
    }
    return nullptr;
}

/// The Levenshtein distance between a and b, for "did you mean" hints on short words.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// The word of the vocabulary text is a likely misspelling of, or nullptr. Only names of
/// six letters or more are considered, so that short directory names ("db") stay paths.
[[nodiscard]] inline const spec_word* near_spec_word(const std::vector<spec_word>& vocabulary, std::string_view text) {
    for (const spec_word& word : vocabulary) {
        for (const std::string_view candidate : {word.name, word.short_name}) {
            if (candidate.size() >= 6 && edit_distance(text, candidate) <= 2) return &word;
        }
    }
    return nullptr;
}

/// Reads spec into out; on failure sets ec (kvforge::errc::invalid_argument) with a message
/// naming the word or the contradiction and what to write instead.
inline bool parse_store_spec(std::string_view spec, const std::vector<spec_word>& vocabulary, parsed_spec& out,
                             std::error_code& ec) {
    out = parsed_spec{};
    const std::string quoted = "store spec '" + std::string(spec) + "'";
    auto refuse = [&](const std::string& why) {
        fail(ec, errc::invalid_argument, quoted + ": " + why);
        return false;
    };
    auto trimmed = [](std::string_view text) {
        const auto first = text.find_first_not_of(' ');
        if (first == std::string_view::npos) return std::string_view{};
        return text.substr(first, text.find_last_not_of(' ') - first + 1);
    };
    if (trimmed(spec).empty()) {
        return refuse("empty; name a store and a path, e.g. 'file_log,sorted:data/users', or 'memory'");
    }

    std::string_view words = spec;
    const std::size_t colon = spec.find(':');
    if (colon != std::string_view::npos) {
        words = spec.substr(0, colon);
        out.path = std::string(spec.substr(colon + 1));
        out.has_path = true;
        if (out.path.empty()) return refuse("nothing after ':'; give the store's directory, e.g. 'file_log:data/users'");
    } else if (spec.find(',') == std::string_view::npos && find_spec_word(vocabulary, trimmed(spec)) == nullptr) {
        // A bare path. One that looks like a misspelt word is refused rather than made a store.
        if (spec.find('/') == std::string_view::npos) {
            if (const spec_word* near = near_spec_word(vocabulary, spec)) {
                return refuse("'" + std::string(spec) + "' is not a word kvforge knows (did you mean '" +
                              std::string(near->name) + "'?); for a directory of that name write './" +
                              std::string(spec) + "'");
            }
        }
        out.path = std::string(spec);
        out.has_path = true;
        return true;
    }

    const spec_word* store_word = nullptr;
    std::string_view durability_name;
    for (std::size_t start = 0; !trimmed(words).empty();) {
        const std::size_t comma = std::min(words.find(',', start), words.size());
        const std::string_view text = trimmed(words.substr(start, comma - start));
        if (text.empty()) return refuse("an empty word between commas");
        const spec_word* word = find_spec_word(vocabulary, text);
        if (word == nullptr) {
            std::string why = "unknown word '" + std::string(text) + "'";
            if (const spec_word* near = near_spec_word(vocabulary, text)) {
                why += " (did you mean '" + std::string(near->name) + "'?)";
            }
            return refuse(why + "; the words kvforge knows are " + describe_vocabulary(vocabulary));
        }
        const std::string_view earlier = out.choice(word->axis);
        if (!earlier.empty() && earlier != word->name) {
            return refuse("names two " + std::string(word->axis) + " policies, '" + std::string(earlier) + "' and '" +
                          std::string(word->name) + "'; keep one");
        }
        if (earlier.empty()) out.chosen.emplace_back(word->axis, word->name);
        if (word->axis == policy_kind::store::name) store_word = word;
        if (word->axis == policy_kind::durability::name) durability_name = word->name;
        if (comma == words.size()) break;
        start = comma + 1;
    }

    if (store_word != nullptr && !store_word->persistent) {
        const std::string store_name(store_word->name);
        if (!durability_name.empty()) {
            return refuse(store_name + " keeps nothing on disk, so it takes no durability policy; remove '" +
                          std::string(durability_name) + "' or choose a persistent store such as file_log");
        }
        if (out.has_path) {
            return refuse(store_name + " has no files, so it takes no path; remove ':" + out.path +
                          "' or choose a persistent store such as file_log");
        }
    }
    if (store_word != nullptr && store_word->persistent && !out.has_path) {
        return refuse("incomplete: " + std::string(store_word->name) + " keeps its records in a directory; add it, e.g. '" +
                      std::string(words) + ":data/users'");
    }
    if (store_word == nullptr && !durability_name.empty() && !out.has_path) {
        return refuse("incomplete: '" + std::string(durability_name) +
                      "' is a durability policy, for a store on disk; add the store's directory, e.g. '" +
                      std::string(words) + ":data/users'");
    }
    return true;
}

}  // namespace kvforge::detail
