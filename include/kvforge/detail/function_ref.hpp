#pragma once
/// \file function_ref.hpp
/// detail::function_ref: a non-owning reference to a callable, so that a virtual call can
/// take any lambda without allocating (the shape of C++26's std::function_ref).

#include <type_traits>
#include <utility>

namespace kvforge::detail {

template <class Signature>
class function_ref;

/// Refers to a callable that outlives it; calling it calls the callable. Cheap to copy.
template <class R, class... Args>
class function_ref<R(Args...)> {
public:
    /// Implicit, as a function pointer converts: callers pass lambdas where one is expected.
    /// (__builtin_addressof is std::addressof, in gcc, clang and msvc alike, without the
    /// <memory> that any_store.hpp keeps out.)
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, function_ref> && std::is_invocable_r_v<R, F&, Args...>)
    function_ref(F&& f) noexcept
        : object_(const_cast<void*>(static_cast<const void*>(__builtin_addressof(f)))),
          call_([](void* object, Args... args) -> R {
              auto& callable = *static_cast<std::remove_reference_t<F>*>(object);
              if constexpr (std::is_void_v<R>) {
                  callable(std::forward<Args>(args)...);
              } else {
                  return callable(std::forward<Args>(args)...);
              }
          }) {}

    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_;
    R (*call_)(void*, Args...);
};

}  // namespace kvforge::detail
