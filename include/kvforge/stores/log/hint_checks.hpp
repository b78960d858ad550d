#pragma once
/// \file hint_checks.hpp
/// The hints an open replays, mapped at once and checked (check_hint) on a second thread
/// ahead of the replay, so that the opening thread only reads their entries.
///
/// A hint is read twice: once to check all of it (its CRC and every entry's structure),
/// so that a bad hint changes nothing, and once to deliver its entries. The check needs
/// no state but the hint's bytes and its segment's identity and size, so while the
/// opening thread reads the entries of one hint, a second thread checks the next ones; a
/// store opens before its users' threads use it, whatever its threading policy, so the
/// second core is free. Either thread checks a hint the other has not begun: when no
/// second thread runs (or it is slow to start), the opening thread checks each hint
/// itself as it comes to it.
///
/// Only the opening thread calls the I/O policy (opens and maps); the second thread reads
/// the mappings' bytes only.

#include <fcntl.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "../../detail/data_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "file_mapping.hpp"
#include "hint.hpp"
#include "segment.hpp"

namespace kvforge::detail {

/// A segment's hint as the open replays it: its bytes, mapped, and what check_hint found.
template <class IO>
struct mapped_hint {
    std::shared_ptr<const file_mapping<IO>> mapping;  ///< null when the segment has no hint to read
    hint_check check;                                 ///< passed() only when mapping is set

    [[nodiscard]] std::string_view bytes() const noexcept {
        return mapping ? std::string_view(mapping->data(), mapping->length()) : std::string_view();
    }
};

/// The hints of the segments an open replays, in replay order, checked ahead of it.
template <class IO>
class hint_checks {
public:
    /// Maps the hint of each segment of ordered (an empty hint, or one that cannot be
    /// opened or mapped, counts as none); identity(segment) tells which segment a hint
    /// must describe.
    template <class Identity>
    hint_checks(const IO& io, const store_directory<IO>& directory,
                std::span<const std::shared_ptr<segment<IO>>> ordered, Identity&& identity)
        : count_(ordered.size()), slots_(std::make_unique<slot[]>(ordered.size())) {
        for (std::size_t i = 0; i < count_; ++i) {
            slot& s = slots_[i];
            s.identity = identity(*ordered[i]);
            s.data_size = ordered[i]->size;
            data_file<IO> file;
            std::error_code ignored;
            std::uint64_t size = 0;
            if (!directory.open_file(file, store_file_name::hint(ordered[i]->id), O_RDONLY, ignored) ||
                !file.size(size, ignored) || size == 0) {
                continue;
            }
            // Mapped rather than read: each is parsed front to back, and a copy would
            // cost a buffer as large as the file.
            s.hint.mapping =
                file_mapping<IO>::map(io, file.descriptor(), static_cast<std::size_t>(size), file.path(), ignored);
            if (s.hint.mapping) ++mapped_;
        }
    }

    hint_checks(const hint_checks&) = delete;
    hint_checks& operator=(const hint_checks&) = delete;

    /// Stops the checks not yet begun and waits for the one under way.
    ~hint_checks() {
        if (!checker_.joinable()) return;
        stop_.store(true, std::memory_order_relaxed);
        checker_.join();
    }

    /// The entries the mapped hints list, from their heads: only a bound, for sizing what
    /// is filled from them (a hint may fail its check later).
    [[nodiscard]] std::uint64_t listed_entries() const noexcept {
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            const std::string_view bytes = slots_[i].hint.bytes();
            total += hint_entry_count(bytes, bytes.size(), slots_[i].identity);
        }
        return total;
    }

    /// Starts checking the hints on a second thread, when there are two or more: the
    /// first is usually checked by the opening thread, which comes to it at once.
    void start_ahead() noexcept {
        if (mapped_ < 2) return;
        try {
            // A plain thread and a flag rather than std::jthread, whose stop token would
            // compile a few dozen more functions into every file that opens a store.
            checker_ = std::thread([this] {
                for (std::size_t i = 0; i < count_ && !stop_.load(std::memory_order_relaxed); ++i) {
                    check_unclaimed(slots_[i]);
                }
            });
        } catch (const std::system_error&) {
            // No thread to be had: take() checks each hint.
        }
    }

    /// The hint of the i-th segment in replay order, checked, handed over (each is taken
    /// once, in order): waits for its check if the second thread is making it, or makes
    /// it here if no thread has begun it.
    [[nodiscard]] mapped_hint<IO> take(std::size_t i) noexcept {
        slot& s = slots_[i];
        if (!check_unclaimed(s)) {
            for (std::uint8_t state = s.state.load(std::memory_order_acquire); state != done;
                 state = s.state.load(std::memory_order_acquire)) {
                s.state.wait(state, std::memory_order_acquire);
            }
        }
        return std::move(s.hint);
    }

private:
    static constexpr std::uint8_t unclaimed = 0;
    static constexpr std::uint8_t claimed = 1;
    static constexpr std::uint8_t done = 2;

    struct slot {
        mapped_hint<IO> hint;
        hint_identity identity;
        std::uint64_t data_size = 0;
        std::atomic<std::uint8_t> state{unclaimed};
    };

    // Checks s's hint if no thread has begun it; false when one had.
    static bool check_unclaimed(slot& s) noexcept {
        std::uint8_t expected = unclaimed;
        if (!s.state.compare_exchange_strong(expected, claimed, std::memory_order_acq_rel)) return false;
        if (s.hint.mapping) s.hint.check = check_hint(s.hint.bytes(), s.identity, s.data_size);
        s.state.store(done, std::memory_order_release);
        s.state.notify_all();
        return true;
    }

    std::size_t count_;
    std::size_t mapped_ = 0;
    std::unique_ptr<slot[]> slots_;
    std::atomic<bool> stop_{false};  // set when the checks not yet begun are no longer wanted
    std::thread checker_;            // last: joined before the slots go
};

}  // namespace kvforge::detail
