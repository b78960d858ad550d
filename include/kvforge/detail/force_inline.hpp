#pragma once
/// \file force_inline.hpp
/// KVFORGE_FORCE_INLINE: a function inlined wherever it is called, whatever the compiler's
/// own estimate.
///
/// For the few functions of an in-memory lookup (hash, probe, record header): in a small
/// program the compiler inlines them by itself, but in a large one (many stores, many
/// instantiations) it keeps them out of line once its budget for the translation unit is
/// spent, and a get then makes three calls. Those calls cost a third of a view get at a
/// million keys: every instruction a get takes is one the processor cannot spend running
/// the next gets ahead while this one waits for memory (docs/benchmarks.md, "Memory get:
/// the calls").

#if defined(__GNUC__) || defined(__clang__)
#define KVFORGE_FORCE_INLINE [[gnu::always_inline]] inline
#elif defined(_MSC_VER)
#define KVFORGE_FORCE_INLINE __forceinline
#else
#define KVFORGE_FORCE_INLINE inline
#endif
