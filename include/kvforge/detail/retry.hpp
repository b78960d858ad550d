#pragma once
/// \file retry.hpp
/// Repeating a system call that a signal interrupted.

#include <cerrno>

namespace kvforge::detail {

/// Calls call() until it does not fail with EINTR. A signal that interrupts a call is
/// no error of the store's: the call did nothing that a repeat could not finish, and a
/// write-back error is still reported by the repeated fsync or fdatasync.
template <class Call>
auto retry_on_eintr(Call&& call) noexcept {
    for (;;) {
        const auto result = call();
        if (result != -1 || errno != EINTR) return result;
    }
}

}  // namespace kvforge::detail
