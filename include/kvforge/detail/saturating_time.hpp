#pragma once
/// \file saturating_time.hpp
/// Deadlines computed without overflow: a time to live or a deadline that lies past
/// what a clock's time_point can hold becomes the clock's largest (or, for one before
/// its range, smallest) time_point, rather than wrapping round to a time in the past.
///
/// std::chrono's own conversions and additions overflow silently (undefined behaviour
/// for signed reps): system_clock::now() + years(300) wraps under libstdc++, whose
/// nanosecond time_point ends in 2262, and a stored deadline that wrapped negative would
/// make the key expire at once.

#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

#include "clocks.hpp"

namespace kvforge::detail {

/// d converted to To (an integral duration), truncating toward zero as duration_cast
/// does, but clamped to To's range where duration_cast would overflow.
template <class To, class Rep, class Period>
[[nodiscard]] constexpr To saturating_duration_cast(std::chrono::duration<Rep, Period> d) noexcept {
    using to_rep = typename To::rep;
    static_assert(std::is_integral_v<to_rep>, "a deadline's duration counts whole ticks");
    using ratio = std::ratio_divide<Period, typename To::period>;
    constexpr std::intmax_t num = ratio::num;
    constexpr std::intmax_t den = ratio::den;
    constexpr std::intmax_t high = std::numeric_limits<to_rep>::max() < std::numeric_limits<std::intmax_t>::max()
                                       ? static_cast<std::intmax_t>(std::numeric_limits<to_rep>::max())
                                       : std::numeric_limits<std::intmax_t>::max();
    constexpr std::intmax_t low = std::is_signed_v<to_rep> ? static_cast<std::intmax_t>(std::numeric_limits<to_rep>::min())
                                                           : std::intmax_t{0};
    if constexpr (std::is_floating_point_v<Rep>) {
        // long double holds every bound exactly or rounds it outward (to 2^63), so a
        // value below it converts without overflow. NaN compares false: it gives To::max().
        const long double ticks = static_cast<long double>(d.count()) * num / den;
        if (!(ticks < static_cast<long double>(high))) return To(static_cast<to_rep>(high));
        if (ticks <= static_cast<long double>(low)) return To(static_cast<to_rep>(low));
        return To(static_cast<to_rep>(ticks));
    } else {
        if constexpr (std::is_unsigned_v<Rep>) {
            if (d.count() > static_cast<std::make_unsigned_t<std::intmax_t>>(high)) return To(static_cast<to_rep>(high));
        }
        const auto count = static_cast<std::intmax_t>(d.count());
        // count = q * den + r, so count * num / den = q * num + r * num / den (both parts
        // truncate toward zero, as the whole does), each part checked before it is formed.
        const std::intmax_t q = count / den;
        const std::intmax_t r = count % den;
        if (q > high / num) return To(static_cast<to_rep>(high));
        if (q < low / num) return To(static_cast<to_rep>(low));
        const std::intmax_t whole = q * num;
        // |r| < den, and num and den of a reduced ratio rarely are both large: when
        // r * num could overflow, long double gives the (at most one tick off) remainder.
        const std::intmax_t part =
            (r == 0 || (r > 0 ? r : -r) <= std::numeric_limits<std::intmax_t>::max() / num)
                ? r * num / den
                : static_cast<std::intmax_t>(static_cast<long double>(r) * num / den);
        if (part > 0 && whole > high - part) return To(static_cast<to_rep>(high));
        if (part < 0 && whole < low - part) return To(static_cast<to_rep>(low));
        return To(static_cast<to_rep>(whole + part));
    }
}

/// at + by, clamped to the range of TimePoint (the largest time_point past its end, the
/// smallest before its start).
template <class TimePoint>
[[nodiscard]] constexpr TimePoint saturating_add(TimePoint at, typename TimePoint::duration by) noexcept {
    const auto high = TimePoint::max().time_since_epoch().count();
    const auto low = TimePoint::min().time_since_epoch().count();
    const auto start = at.time_since_epoch().count();
    const auto step = by.count();
    if (step > 0 && start > high - step) return TimePoint::max();
    if (step < 0 && start < low - step) return TimePoint::min();
    return at + by;
}

/// The deadline ttl after Clock's now, clamped to Clock's time_point range.
template <class Clock, class Rep, class Period>
[[nodiscard]] typename Clock::time_point deadline_after(std::chrono::duration<Rep, Period> ttl) {
    return saturating_add(Clock::now(), saturating_duration_cast<typename Clock::duration>(ttl));
}

/// deadline as a count of Clock's ticks (what an expiring store keeps), clamped to the
/// range of Clock's duration when deadline's own duration reaches past it.
template <class Clock, class Duration>
[[nodiscard]] constexpr std::int64_t deadline_ticks(std::chrono::time_point<Clock, Duration> deadline) noexcept {
    return static_cast<std::int64_t>(
        saturating_duration_cast<typename Clock::duration>(deadline.time_since_epoch()).count());
}

}  // namespace kvforge::detail
