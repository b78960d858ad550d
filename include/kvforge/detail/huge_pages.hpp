#pragma once
/// \file huge_pages.hpp
/// Zeroed arrays that ask the kernel to back them with transparent huge pages.
///
/// A hash lookup touches one random line of its table: with 4 KiB pages each of those is
/// also a TLB miss (a table of a million keys spans 4,096 pages, past what the TLB maps),
/// which adds a page walk to every lookup. An array of at least 2 MiB is therefore aligned
/// to 2 MiB and advised MADV_HUGEPAGE, so that where transparent huge pages are enabled
/// ("madvise" or "always"), the kernel maps it with 2 MiB pages. Elsewhere, or when the
/// advice is refused, the array works as any other.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kvforge::detail {

/// Frees what make_huge_page_array() allocated, with the alignment it used.
struct huge_page_array_deleter {
    std::align_val_t alignment{alignof(std::max_align_t)};

    template <class T>
    void operator()(T* p) const noexcept {
        ::operator delete(static_cast<void*>(p), alignment);
    }
};

template <class T>
using huge_page_array = std::unique_ptr<T[], huge_page_array_deleter>;

/// The size of a huge page on the platforms where kvforge asks for them.
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

/// count zero-filled elements of T (trivially copyable), on huge pages where the array is
/// large enough and the system allows it. Throws std::bad_alloc.
template <class T>
[[nodiscard]] huge_page_array<T> make_huge_page_array(std::size_t count) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>);
    if (count > ~std::size_t{0} / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = count * sizeof(T);
    const std::size_t alignment = bytes >= huge_page_size ? huge_page_size : alignof(T);
    void* memory = ::operator new (bytes, std::align_val_t{alignment});
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    // Advice before the first touch, so that the pages are huge from their first fault.
    // Only whole huge pages are advised; a refusal (no THP in this kernel) changes nothing.
    if (alignment == huge_page_size) ::madvise(memory, bytes - bytes % huge_page_size, MADV_HUGEPAGE);
#endif
    std::memset(memory, 0, bytes);
    return huge_page_array<T>(static_cast<T*>(memory), huge_page_array_deleter{std::align_val_t{alignment}});
}

}  // namespace kvforge::detail
