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
#include "batch.hpp"
#include "codec.hpp"
#include "compositions.hpp"
#include "detail/clocks.hpp"
#include "detail/manifest_file.hpp"
#include "detail/policy_pack.hpp"
#include "detail/store_spec.hpp"
#include "error.hpp"
#include "io/posix.hpp"
#include "manifest.hpp"
#include "options.hpp"
#include "pinned_value.hpp"
#include "store.hpp"
#include "stores/log/record_format.hpp"

namespace kvforge {

namespace detail {

/// The codecs whose bytes a store is opened to read: those of Key and Value, or, for
/// kvforge's own tool, those the store's files say (see open_store_adopting).
struct codec_choice {
    std::string key_codec;
    std::string value_codec;
    std::uint64_t fingerprint = 0;
    /// False when only the fingerprint is known (a format 1 store of codecs the tool does
    /// not know): the names are placeholders, and no MANIFEST records them.
    bool names_known = true;
};

/// The one door from kvforge's own layers into store and any_store internals.
struct store_access {
    template <class Store>
    static const auto& backend(const Store& s) noexcept {
        return s.backend_;
    }
    template <class Store>
    static void open_with_codecs(Store& s, std::string_view path, const options& opts, const codec_choice& codecs,
                                 std::error_code& ec) noexcept {
        const std::string unknown;
        s.open_with_codecs(path, opts, codecs.names_known ? codecs.key_codec : unknown,
                           codecs.names_known ? codecs.value_codec : unknown, codecs.fingerprint, ec);
    }
    template <class View, class Key, class Value, bool Ordered>
    static const View& view(const kvforge::snapshot<View, Key, Value, Ordered>& s) noexcept {
        return *s.view_;
    }
    template <class Store>
    static std::uint64_t write_operations(Store& s, const batch_buffer& ops, std::error_code& ec) noexcept {
        return s.write_operations(ops, ec);
    }
    template <class Key, class Value>
    static any_store<Key, Value> make_any(std::unique_ptr<erased_store<Key, Value>> opened) noexcept {
        return any_store<Key, Value>(opened.release());
    }
};

/// A store's snapshot behind the erased calls: reads as of its cut, writes refused.
template <class Snapshot>
class erased_snapshot final : public erased_store<typename Snapshot::key_type, typename Snapshot::mapped_type> {
    using Key = typename Snapshot::key_type;
    using Value = typename Snapshot::mapped_type;
    using base = erased_store<Key, Value>;
    using key_param = typename base::key_param;
    using value_param = typename base::value_param;
    using record_visitor = typename base::record_visitor;

public:
    erased_snapshot(erased_description description, Snapshot snapshot) : snapshot_(std::move(snapshot)) {
        this->description_ = std::move(description);
    }

    std::uint64_t put(key_param, value_param, std::error_code& ec) noexcept override { return refused(ec, 0); }
    std::optional<Value> get(key_param key, std::error_code& ec) const noexcept override {
        return snapshot_.get(key, ec);
    }
    bool get_into(key_param key, Value& out, std::error_code& ec) const noexcept override {
        return snapshot_.get(key, out, ec);
    }
    bool visit(key_param key, function_ref<void(std::string_view)> fn, std::error_code& ec) const override {
        return snapshot_.visit(key, fn, ec);
    }
    bool get_view(key_param, pinned_value&, std::error_code& ec) const noexcept override {
        fail_unsupported(ec, "get_view()", "a store rather than a snapshot", this->description_, "a snapshot",
                         "use visit() for a view during a callback or get() for a copy");
        return false;
    }
    bool contains(key_param key, std::error_code& ec) const noexcept override { return snapshot_.contains(key, ec); }
    bool erase(key_param, std::error_code& ec) noexcept override { return refused(ec, false); }
    std::uint64_t write(const batch_buffer&, std::error_code& ec) noexcept override { return refused(ec, 0); }
    void visit_records(std::string_view from, bool inclusive, record_visitor visitor,
                       std::error_code& ec) const override {
        if constexpr (Snapshot::ordered) {
            ec.clear();
            store_access::view(snapshot_).visit_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void visit_records_down(std::optional<std::string_view> from, bool inclusive, record_visitor visitor,
                            std::error_code& ec) const override {
        if constexpr (Snapshot::ordered) {
            ec.clear();
            store_access::view(snapshot_).visit_down_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void for_each(function_ref<void(const Key&, const Value&)> fn, std::error_code& ec) const override {
        snapshot_.for_each(fn, ec);
    }
    [[nodiscard]] std::size_t size() const override { return snapshot_.size(); }
    void clear(std::error_code& ec) noexcept override { refused(ec, 0); }
    void flush(std::error_code& ec) noexcept override { ec.clear(); }
    void sync(std::error_code& ec) noexcept override { ec.clear(); }
    void compact(std::error_code& ec) noexcept override { refused(ec, 0); }
    void backup(std::string_view, const backup_options&, std::error_code& ec) noexcept override { refused(ec, 0); }
    void wait_durable(std::uint64_t, std::error_code& ec) noexcept override { refused(ec, 0); }
    std::uint64_t durable_seq(std::error_code& ec) const noexcept override { return refused(ec, 0); }
    verify_report verify(std::error_code& ec) const noexcept override {
        fail_unsupported(ec, "verify()", "a store rather than a snapshot", this->description_, "a snapshot",
                         "verify the store it came from");
        return {};
    }
    base* snapshot(std::error_code& ec) noexcept override {
        ec.clear();
        try {
            return new erased_snapshot(this->description_, snapshot_);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
            return nullptr;
        }
    }
    void close(std::error_code& ec) noexcept override { ec.clear(); }
    [[nodiscard]] bool is_open() const noexcept override { return true; }

private:
    template <class Result>
    static Result refused(std::error_code& ec, Result result) noexcept {
        fail(ec, errc::read_only, "this any_store is a snapshot, which is read-only; write to the store it came from");
        return result;
    }

    Snapshot snapshot_;
};

/// One composition's store behind the erased calls.
template <class Store>
class erased_store_impl final : public erased_store<typename Store::key_type, typename Store::mapped_type> {
    using Key = typename Store::key_type;
    using Value = typename Store::mapped_type;
    using base = erased_store<Key, Value>;
    using key_param = typename base::key_param;
    using value_param = typename base::value_param;
    using record_visitor = typename base::record_visitor;
    using backend_type = std::remove_cvref_t<decltype(store_access::backend(std::declval<const Store&>()))>;

    static constexpr bool ordered = Store::index_policy::ordered;
    static constexpr bool expires = Store::expiring && std::is_same_v<typename Store::clock, std::chrono::system_clock>;
    static constexpr bool mapped =
        requires(const backend_type& b, std::string_view k, pinned_value& out, std::error_code& e) {
            b.read_pinned(k, out, e);
        };

public:
    explicit erased_store_impl(erased_description description) { this->description_ = std::move(description); }

    /// Opens the store's files (persistent stores), expecting bytes of these codecs.
    void open(std::string_view path, const options& opts, const codec_choice& codecs, std::error_code& ec) noexcept {
        if constexpr (Store::persistent) {
            store_access::open_with_codecs(store_, path, opts, codecs, ec);
        } else {
            ec.clear();
        }
    }

    std::uint64_t put(key_param key, value_param value, std::error_code& ec) noexcept override {
        if constexpr (Store::sequenced) {
            return store_.put(key, value, ec);
        } else {
            store_.put(key, value, ec);
            return 0;
        }
    }
    std::optional<Value> get(key_param key, std::error_code& ec) const noexcept override { return store_.get(key, ec); }
    bool get_into(key_param key, Value& out, std::error_code& ec) const noexcept override {
        return store_.get(key, out, ec);
    }
    bool visit(key_param key, function_ref<void(std::string_view)> fn, std::error_code& ec) const override {
        return store_.visit(key, fn, ec);
    }
    bool get_view(key_param key, pinned_value& out, std::error_code& ec) const noexcept override {
        if constexpr (mapped) {
            std::optional<pinned_value> view = store_.get_view(key, ec);
            if (!view) return false;
            out = std::move(*view);
            return true;
        } else {
            fail_unsupported(ec, "get_view()", "mmap_file", this->description_, this->description_.composition.store,
                             "use visit() for a view during a callback or get() for a copy, or open the store with "
                             "'mmap_file' in its spec (it reads file_log's files)");
            return false;
        }
    }
    bool contains(key_param key, std::error_code& ec) const noexcept override { return store_.contains(key, ec); }
    bool erase(key_param key, std::error_code& ec) noexcept override { return store_.erase(key, ec); }
    std::uint64_t put_until(key_param key, value_param value, std::chrono::system_clock::time_point deadline,
                            std::error_code& ec) noexcept override {
        if constexpr (!expires) {
            fail_not_expiring(ec, "put() with a deadline");
        } else if constexpr (Store::sequenced) {
            return store_.put(key, value, deadline, ec);
        } else {
            store_.put(key, value, deadline, ec);
        }
        return 0;
    }
    std::optional<std::chrono::system_clock::time_point> expiry(key_param key,
                                                                std::error_code& ec) const noexcept override {
        if constexpr (expires) {
            return store_.expiry(key, ec);
        } else {
            fail_not_expiring(ec, "expiry()");
            return std::nullopt;
        }
    }
    std::size_t purge_expired(std::error_code& ec) noexcept override {
        if constexpr (expires) {
            return store_.purge_expired(ec);
        } else {
            fail_not_expiring(ec, "purge_expired()");
            return 0;
        }
    }
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) noexcept override {
        // A batch's deadlines are system_clock ticks: only a store that keeps those takes them.
        if (!expires && ops.deadline_count() != 0) {
            fail_not_expiring(ec, "a batch's put() with a deadline");
            return 0;
        }
        return store_access::write_operations(store_, ops, ec);
    }
    void wait_durable(std::uint64_t sequence, std::error_code& ec) noexcept override {
        if constexpr (Store::sequenced) {
            store_.wait_durable(sequence, ec);
        } else {
            fail_not_sequenced(ec, "wait_durable()");
        }
    }
    std::uint64_t durable_seq(std::error_code& ec) const noexcept override {
        if constexpr (Store::sequenced) {
            ec.clear();
            return store_.durable_seq();
        } else {
            fail_not_sequenced(ec, "durable_seq()");
            return 0;
        }
    }
    void visit_records(std::string_view from, bool inclusive, record_visitor visitor,
                       std::error_code& ec) const override {
        if constexpr (ordered) {
            ec.clear();
            store_access::backend(store_).visit_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void visit_records_down(std::optional<std::string_view> from, bool inclusive, record_visitor visitor,
                            std::error_code& ec) const override {
        if constexpr (ordered) {
            ec.clear();
            store_access::backend(store_).visit_down_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    [[nodiscard]] std::uint64_t write_version() const noexcept override {
        return store_access::backend(store_).write_version();
    }
    void for_each(function_ref<void(const Key&, const Value&)> fn, std::error_code& ec) const override {
        store_.for_each(fn, ec);
    }
    [[nodiscard]] std::size_t size() const override { return store_.size(); }
    void clear(std::error_code& ec) noexcept override { store_.clear(ec); }
    [[nodiscard]] kvforge::stats stats() const override { return store_.stats(); }
    void flush(std::error_code& ec) noexcept override { store_.flush(ec); }
    void sync(std::error_code& ec) noexcept override { store_.sync(ec); }
    void compact(std::error_code& ec) noexcept override { store_.compact(ec); }
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) noexcept override {
        if constexpr (Store::persistent) {
            store_.backup(dest, how, ec);
        } else {
            fail_unsupported(ec, "backup()", "a persistent store", this->description_,
                             this->description_.composition.store,
                             "copy the records into a file_log store with kvforge::copy(src, dst)");
        }
    }
    verify_report verify(std::error_code& ec) const noexcept override { return store_.verify(ec); }
    base* snapshot(std::error_code& ec) noexcept override {
        if constexpr (requires { store_.snapshot(ec); }) {
            try {
                std::optional<typename Store::snapshot_type> taken = store_.snapshot(ec);
                if (!taken) return nullptr;
                return new erased_snapshot<typename Store::snapshot_type>(this->description_, std::move(*taken));
            } catch (const std::bad_alloc&) {
                fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
                return nullptr;
            }
        } else {
            fail_unsupported(ec, "snapshot()", "a store that is not a bounded cache", this->description_, "a bounded cache",
                             "copy the records into another store with kvforge::copy(src, dst)");
            return nullptr;
        }
    }
    void close(std::error_code& ec) noexcept override {
        if constexpr (Store::persistent) {
            store_.close(ec);
        } else {
            ec.clear();
        }
    }
    [[nodiscard]] bool is_open() const noexcept override { return store_.is_open(); }

private:
    void fail_not_expiring(std::error_code& ec, std::string_view call) const noexcept {
        fail_unsupported(ec, call, "expiring<std::chrono::system_clock>", this->description_,
                         this->description_.composition.expiry == "none" ? std::string_view("no expiry")
                                                                          : this->description_.composition.expiry,
                         "create the store with 'expiring' in its spec (its deadlines are part of its files, so an "
                         "existing store keeps the expiry it was written with)");
    }

    void fail_not_sequenced(std::error_code& ec, std::string_view call) const noexcept {
        fail_unsupported(ec, call, "async_worker", this->description_, this->description_.composition.durability,
                         "with sync_each a write is durable when it returns, with buffered call sync(); or open the "
                         "store with 'async_worker' in its spec");
    }

    Store store_;
};

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
        using opener = std::unique_ptr<erased_store<Key, Value>> (*)(erased_description, std::string_view,
                                                                     const options&, const codec_choice&,
                                                                     std::error_code&);
        static constexpr opener openers[] = {&composition_traits<Packs>::template open<Key, Value>...};
        return openers[index](std::move(description), path, opts, codecs, ec);
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
