#pragma once
/// \file merging_cursor.hpp
/// One ordered walk over several sorted sources that may hold the same keys: the tables of
/// a store and its active segment's index, newest first. For each key it gives the entry of
/// the newest source that holds it, put or erase, in both directions; with skip_erases it
/// gives only the keys whose newest entry is a put, as a scan of the store sees them.
///
/// Going forward, every source stands at its first entry after the keys already given;
/// the cursor gives the least of their keys and moves on each source that stands at it.
/// Going backward the same holds mirrored. A change of direction puts each source back in
/// place around the current key with one seek. Each step compares the sources' keys in a
/// loop: a store reads a handful of sources, where a heap would cost more than it saves.
/// The cursor keeps each source's entry from its last move, so that a step calls only the
/// sources it moves (a scan spent half its time in the calls that asked each source again).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/same_bytes.hpp"
#include "table_block.hpp"

namespace kvforge::detail {

/// A sorted source of entries that a merging cursor walks: the calls of table_cursor,
/// behind one interface, so that tables and in-memory indexes walk together.
class entry_cursor {
public:
    virtual ~entry_cursor() = default;
    /// Each call leaves the cursor at an entry and returns true, or returns false: at an end
    /// with ec clear, or at an error with ec set.
    virtual bool seek_first(std::error_code& ec) = 0;
    virtual bool seek_last(std::error_code& ec) = 0;
    /// To the first entry whose key is not less than key.
    virtual bool seek(std::string_view key, std::error_code& ec) = 0;
    virtual bool next(std::error_code& ec) = 0;
    virtual bool prev(std::error_code& ec) = 0;
    [[nodiscard]] virtual bool valid() const noexcept = 0;
    /// The entry the cursor is at, valid until it moves.
    [[nodiscard]] virtual const table_entry& entry() const noexcept = 0;
};

/// An entry_cursor that forwards to a cursor with the same calls, such as table_cursor.
template <class Cursor>
class entry_cursor_of final : public entry_cursor {
public:
    template <class... Args>
    explicit entry_cursor_of(Args&&... args) : cursor_(std::forward<Args>(args)...) {}

    bool seek_first(std::error_code& ec) override { return cursor_.seek_first(ec); }
    bool seek_last(std::error_code& ec) override { return cursor_.seek_last(ec); }
    bool seek(std::string_view key, std::error_code& ec) override { return cursor_.seek(key, ec); }
    bool next(std::error_code& ec) override { return cursor_.next(ec); }
    bool prev(std::error_code& ec) override { return cursor_.prev(ec); }
    [[nodiscard]] bool valid() const noexcept override { return cursor_.valid(); }
    [[nodiscard]] const table_entry& entry() const noexcept override { return cursor_.entry(); }

private:
    Cursor cursor_;
};

/// Whether a merging cursor gives the keys whose newest entry is an erase.
enum class erases : bool { skipped, given };

class merging_cursor {
public:
    /// Walks sources, newest first; they must outlive the cursor's use.
    merging_cursor(std::vector<entry_cursor*> sources, erases shown)
        : sources_(std::move(sources)), at_(sources_.size(), nullptr), shown_(shown) {}

    [[nodiscard]] bool valid() const noexcept { return current_ != none; }
    /// The newest entry of the current key, valid until the cursor moves.
    [[nodiscard]] const table_entry& entry() const noexcept { return *at_[current_]; }
    /// The keys and values of the entries passed without being given: older versions of a
    /// key, and the erases skipped, with what they hide. A merge drops them.
    [[nodiscard]] std::uint64_t passed_bytes() const noexcept { return passed_bytes_; }

    bool seek_first(std::error_code& ec) {
        forward_ = true;
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            if (!note(i, sources_[i]->seek_first(ec), ec)) return fail();
        }
        return settle(ec);
    }

    bool seek_last(std::error_code& ec) {
        forward_ = false;
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            if (!note(i, sources_[i]->seek_last(ec), ec)) return fail();
        }
        return settle(ec);
    }

    /// To the first key not less than key whose entry the cursor gives.
    bool seek(std::string_view key, std::error_code& ec) {
        forward_ = true;
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            if (!note(i, sources_[i]->seek(key, ec), ec)) return fail();
        }
        return settle(ec);
    }

    bool next(std::error_code& ec) {
        ec.clear();
        if (!valid()) return false;
        if (!forward_) {
            // Each source stands at or before the key: put it at the first entry after it.
            forward_ = true;
            key_.assign(entry().key);
            for (std::size_t i = 0; i < sources_.size(); ++i) {
                entry_cursor* source = sources_[i];
                bool at = source->seek(key_, ec);
                if (ec) return fail();
                if (at && source->entry().key == key_) at = source->next(ec);
                if (!note(i, at, ec)) return fail();
            }
            return settle(ec);
        }
        if (!step_past(current_, ec)) return fail();
        return settle(ec);
    }

    bool prev(std::error_code& ec) {
        ec.clear();
        if (!valid()) return false;
        if (forward_) {
            // Each source stands at or after the key: put it at the last entry before it.
            forward_ = false;
            key_.assign(entry().key);
            for (std::size_t i = 0; i < sources_.size(); ++i) {
                entry_cursor* source = sources_[i];
                const bool at_or_after = source->seek(key_, ec);
                if (ec) return fail();
                // A source whose keys all come before the key stands at its last.
                if (!note(i, at_or_after ? source->prev(ec) : source->seek_last(ec), ec)) return fail();
            }
            return settle(ec);
        }
        if (!step_past(current_, ec)) return fail();
        return settle(ec);
    }

private:
    /// Records where source i stands after a move that returned moved: at an entry, at an
    /// end, or (false returned, ec set) at an error.
    bool note(std::size_t i, bool moved, const std::error_code& ec) noexcept {
        at_[i] = moved ? &sources_[i]->entry() : nullptr;
        return moved || !ec;
    }

    /// Moves each source that stands at the current key one entry on, in the cursor's
    /// direction; the entries other than given's (none: every one) were passed. The current
    /// source moves last, as the key's view lies in its entry.
    bool step_past(std::size_t given, std::error_code& ec) {
        const std::string_view key = entry().key;
        for (std::size_t i = 0; i < sources_.size(); ++i) {
            if (i == current_ || at_[i] == nullptr || !same_bytes(at_[i]->key, key)) continue;
            if (!pass(i, given, ec)) return false;
        }
        return pass(current_, given, ec);
    }

    /// Moves source i, which stands at the current key, one entry on.
    bool pass(std::size_t i, std::size_t given, std::error_code& ec) {
        if (i != given) passed_bytes_ += at_[i]->key.size() + at_[i]->value.size();
        entry_cursor* source = sources_[i];
        return note(i, forward_ ? source->next(ec) : source->prev(ec), ec);
    }

    /// Finds the source that gives the current entry, passing the keys whose newest entry
    /// is an erase when those are skipped.
    bool settle(std::error_code& ec) {
        ec.clear();
        while (true) {
            current_ = none;
            for (std::size_t i = 0; i < at_.size(); ++i) {
                if (at_[i] == nullptr) continue;
                if (current_ == none || comes_first(at_[i]->key, at_[current_]->key)) current_ = i;
            }
            if (!valid() || shown_ == erases::given || entry().kind != record_type::erase) return valid();
            if (!step_past(none, ec)) return fail();
        }
    }

    /// Whether a source at key a comes before the current one at b; on a tie the current
    /// one, found first, is the newer.
    [[nodiscard]] bool comes_first(std::string_view a, std::string_view b) const noexcept {
        return forward_ ? bytes_before(a, b) : bytes_before(b, a);
    }

    bool fail() noexcept {
        current_ = none;
        return false;
    }

    static constexpr std::size_t none = static_cast<std::size_t>(-1);

    std::vector<entry_cursor*> sources_;
    std::vector<const table_entry*> at_;  ///< each source's entry, as of its last move; null at an end
    erases shown_;
    bool forward_ = true;
    std::size_t current_ = none;  ///< the source of the current entry; none before a seek and at an end
    std::string key_;             ///< the key a change of direction seeks, copied, since the seeks end its view
    std::uint64_t passed_bytes_ = 0;
};

}  // namespace kvforge::detail
