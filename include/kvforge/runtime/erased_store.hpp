#pragma once
/// \file erased_store.hpp
/// One store composition behind any_store's type-erased calls: the store itself
/// (erased_store_impl), one of its snapshots (erased_snapshot), and the codecs it is
/// opened to read (codec_choice). open_store.hpp makes these; any_store.hpp calls them.

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

#include "../any_store.hpp"
#include "../batch.hpp"
#include "../codec.hpp"
#include "../error.hpp"
#include "../options.hpp"
#include "../pinned_value.hpp"
#include "../store.hpp"

namespace kvforge::detail {

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
    std::uint64_t refresh(std::error_code& ec) noexcept override {
        fail_unsupported(ec, "refresh()", "a store rather than a snapshot", this->description_, "a snapshot",
                         "take a new snapshot of the store");
        return 0;
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
    std::uint64_t refresh(std::error_code& ec) noexcept override {
        if constexpr (Store::persistent) {
            return store_.refresh(ec);
        } else {
            fail_unsupported(ec, "refresh()", "a persistent store", this->description_,
                             this->description_.composition.store, "a memory store has no writer beside it");
            return 0;
        }
    }
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

}  // namespace kvforge::detail
