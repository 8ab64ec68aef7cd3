//! The alternative speed limits (Transmission's "turtle mode", qBittorrent's
//! alternative rate limits): a second pair of session-wide limits, switched
//! on by hand or at scheduled minutes of chosen weekdays, local time.
//!
//! The settings are Transmission's `alt_speed_*` session keys, kept in the
//! daemon record (`stored`), so Transmission's `session-set`,
//! qBittorrent's `toggleSpeedLimitsMode` and the native API share them.
//! The limits the session enforces are the normal ones unless
//! `alt_speed_enabled`; a small task ([`run`]) flips that switch when the
//! schedule's window opens or closes, as Transmission does: a switch by
//! hand inside the window holds until the next edge.

use std::time::Duration;

use serde_json::Value;

use crate::Daemon;
use crate::store::DaemonRecord;

/// Record key: the alternative limits are on.
pub(crate) const ENABLED: &str = "alt_speed_enabled";
/// Record key: alternative upload limit, kB/s (1000 bytes).
pub(crate) const UP: &str = "alt_speed_up";
/// Record key: alternative download limit, kB/s.
pub(crate) const DOWN: &str = "alt_speed_down";
/// Record key: the schedule is on.
pub(crate) const TIME_ENABLED: &str = "alt_speed_time_enabled";
/// Record key: the window's first minute after local midnight.
pub(crate) const BEGIN: &str = "alt_speed_time_begin";
/// Record key: the minute after midnight the window closes.
pub(crate) const END: &str = "alt_speed_time_end";
/// Record key: weekdays of the window, a bit each: Sunday 1, Monday 2, …,
/// Saturday 64.
pub(crate) const DAYS: &str = "alt_speed_time_day";
/// Transmission's unit of speed in these keys.
const SPEED_K: u64 = 1000;
/// Minutes in a day.
const DAY: u32 = 24 * 60;
/// How often the schedule is looked at when nothing else wakes it.
const TICK: Duration = Duration::from_secs(10);

/// The alternative speed settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AltSpeed {
    /// The alternative limits are in force.
    pub enabled: bool,
    /// Upload limit, kB/s (0: none).
    pub up: u64,
    /// Download limit, kB/s (0: none).
    pub down: u64,
    /// The schedule switches them.
    pub time_enabled: bool,
    /// Minute after midnight the window opens.
    pub begin: u32,
    /// Minute after midnight it closes (before `begin`: the next day).
    pub end: u32,
    /// Weekday bits, Sunday 1 … Saturday 64.
    pub days: u8,
}

impl Default for AltSpeed {
    /// Transmission's defaults: 50 kB/s each way, 9:00 to 17:00 every day.
    fn default() -> AltSpeed {
        AltSpeed {
            enabled: false,
            up: 50,
            down: 50,
            time_enabled: false,
            begin: 540,
            end: 1020,
            days: 127,
        }
    }
}

impl AltSpeed {
    /// The settings as the record keeps them (defaults for what is not
    /// set; out-of-range values are clamped, never trusted).
    pub(crate) fn of(record: &DaemonRecord) -> AltSpeed {
        let d = AltSpeed::default();
        let get = |k: &str| record.stored.get(k);
        let flag = |k: &str, def: bool| get(k).and_then(Value::as_bool).unwrap_or(def);
        let num = |k: &str, def: u64| get(k).and_then(Value::as_u64).unwrap_or(def);
        let minute = |k: &str, def: u32| {
            u32::try_from(num(k, u64::from(def)))
                .unwrap_or(DAY - 1)
                .min(DAY - 1)
        };
        AltSpeed {
            enabled: flag(ENABLED, d.enabled),
            up: num(UP, d.up),
            down: num(DOWN, d.down),
            time_enabled: flag(TIME_ENABLED, d.time_enabled),
            begin: minute(BEGIN, d.begin),
            end: minute(END, d.end),
            days: u8::try_from(num(DAYS, u64::from(d.days)) & 127).unwrap_or(127),
        }
    }

    /// Bytes per second (up, down) to enforce, given the normal limits.
    pub(crate) fn effective(
        &self,
        normal: (Option<u64>, Option<u64>),
    ) -> (Option<u64>, Option<u64>) {
        if !self.enabled {
            return normal;
        }
        let limit = |k: u64| Some(k.saturating_mul(SPEED_K)).filter(|b| *b > 0);
        (limit(self.up), limit(self.down))
    }

    /// Whether `at` lies in the scheduled window. A window that closes
    /// before it opens runs over midnight and belongs to the day it
    /// opened; one that closes as it opens is empty.
    pub(crate) fn in_window(&self, at: LocalTime) -> bool {
        let LocalTime { weekday, minute } = at;
        let (open_day, inside) = if self.begin < self.end {
            (weekday, self.begin <= minute && minute < self.end)
        } else if self.begin > self.end {
            if minute >= self.begin {
                (weekday, true)
            } else {
                ((weekday + 6) % 7, minute < self.end)
            }
        } else {
            (weekday, false)
        };
        inside && self.days & (1 << open_day) != 0
    }
}

/// A moment in local time, as the schedule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    /// 0 Sunday … 6 Saturday.
    pub weekday: u32,
    /// Minutes since local midnight.
    pub minute: u32,
}

/// The schedule's memory: the window's state when last looked at.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    last: Option<bool>,
}

impl Schedule {
    /// What the alternative limits must switch to at `at`: `Some` when the
    /// window opened or closed since the last look (or on the first look
    /// with the schedule on), else `None` (a switch by hand holds).
    pub(crate) fn tick(&mut self, settings: &AltSpeed, at: LocalTime) -> Option<bool> {
        if !settings.time_enabled {
            self.last = None;
            return None;
        }
        let now = settings.in_window(at);
        if self.last == Some(now) {
            return None;
        }
        self.last = Some(now);
        (now != settings.enabled).then_some(now)
    }
}

/// The local weekday and minute now (`None` if the C library cannot say).
fn local_now() -> Option<LocalTime> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let t = libc::time_t::try_from(now).ok()?;
    // SAFETY: `localtime_r` reads `t` and writes only the `tm` it is given,
    // which lives on this stack frame; both pointers are valid for the
    // call, and a null return (failure) is checked before `tm` is read.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some(LocalTime {
        weekday: u32::try_from(tm.tm_wday).ok()? % 7,
        minute: u32::try_from(tm.tm_hour * 60 + tm.tm_min).ok()? % DAY,
    })
}

impl Daemon {
    /// The alternative speed settings.
    pub(crate) fn alt_speed(&self) -> AltSpeed {
        AltSpeed::of(&self.daemon_record())
    }

    /// Makes the session enforce the limits in force now: the normal ones,
    /// or the alternative ones while they are on.
    pub(crate) fn apply_rate_limits(&self) {
        let wanted = self.alt_speed().effective(self.rate_limits());
        if self.session().rate_limits() != wanted {
            let (up, down) = wanted;
            self.session().set_rate_limits(up, down);
        }
    }
}

/// Follows the schedule and keeps the session's limits in step with the
/// settings, for as long as the daemon runs: wakes on every change the
/// daemon announces and every [`TICK`].
pub(crate) async fn run(d: Daemon) {
    let mut changes = d.subscribe();
    let mut schedule = Schedule::default();
    loop {
        let settings = d.alt_speed();
        if let Some(on) = local_now().and_then(|at| schedule.tick(&settings, at)) {
            tracing::info!(
                "alternative speed limits {} by the schedule",
                if on { "on" } else { "off" }
            );
            if let Err(e) = d.update_daemon(|r| {
                r.stored.insert(ENABLED.into(), on.into());
            }) {
                tracing::warn!("alternative speed limits: {e}");
            }
        }
        d.apply_rate_limits();
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUN: u32 = 0;
    const MON: u32 = 1;
    const SAT: u32 = 6;

    fn at(weekday: u32, h: u32, m: u32) -> LocalTime {
        LocalTime {
            weekday,
            minute: h * 60 + m,
        }
    }

    fn schedule(begin: u32, end: u32, days: u8) -> AltSpeed {
        AltSpeed {
            time_enabled: true,
            begin,
            end,
            days,
            ..AltSpeed::default()
        }
    }

    #[test]
    fn a_daytime_window_on_chosen_days() {
        // 9:00–17:00 on weekdays (Monday 2 … Friday 32).
        let s = schedule(540, 1020, 62);
        assert!(!s.in_window(at(MON, 8, 59)));
        assert!(s.in_window(at(MON, 9, 0)));
        assert!(s.in_window(at(MON, 16, 59)));
        assert!(!s.in_window(at(MON, 17, 0)));
        assert!(!s.in_window(at(SAT, 12, 0)));
        assert!(!s.in_window(at(SUN, 12, 0)));
    }

    #[test]
    fn a_night_window_belongs_to_the_day_it_opens() {
        // 23:00–6:00, Friday nights only (Friday 32).
        let s = schedule(23 * 60, 6 * 60, 32);
        assert!(s.in_window(at(5, 23, 30)));
        assert!(
            s.in_window(at(SAT, 5, 59)),
            "Friday's night runs into Saturday"
        );
        assert!(!s.in_window(at(SAT, 6, 0)));
        assert!(!s.in_window(at(SAT, 23, 30)));
        assert!(
            !s.in_window(at(5, 5, 0)),
            "Thursday's night is not scheduled"
        );
        // Saturday's night runs into Sunday: the week wraps.
        assert!(schedule(23 * 60, 60, 64).in_window(at(SUN, 0, 30)));
        assert!(!schedule(600, 600, 127).in_window(at(MON, 10, 0)));
    }

    #[test]
    fn the_schedule_switches_at_its_edges_and_a_switch_by_hand_holds() {
        let mut s = schedule(540, 1020, 127);
        let mut sched = Schedule::default();
        // The first look applies the schedule: before 9:00, off (it is off).
        assert_eq!(sched.tick(&s, at(MON, 8, 0)), None);
        assert_eq!(sched.tick(&s, at(MON, 9, 0)), Some(true));
        s.enabled = true;
        assert_eq!(sched.tick(&s, at(MON, 9, 1)), None);
        // Switched off by hand inside the window: it stays off until 17:00.
        s.enabled = false;
        assert_eq!(sched.tick(&s, at(MON, 12, 0)), None);
        assert_eq!(sched.tick(&s, at(MON, 17, 0)), None, "already off");
        // Switched on by hand in the evening: the next edge is tomorrow's 9:00,
        // which it already is; then 17:00 turns it off.
        s.enabled = true;
        assert_eq!(sched.tick(&s, at(MON, 20, 0)), None);
        assert_eq!(sched.tick(&s, at(1 + MON, 9, 0)), None);
        assert_eq!(sched.tick(&s, at(1 + MON, 17, 0)), Some(false));
        s.enabled = false;
        // Without the schedule nothing is switched, and turning it on looks afresh.
        s.time_enabled = false;
        assert_eq!(sched.tick(&s, at(1 + MON, 10, 0)), None);
        s.time_enabled = true;
        assert_eq!(sched.tick(&s, at(1 + MON, 10, 0)), Some(true));
    }

    #[test]
    fn the_limits_in_force() {
        let normal = (Some(1_000_000), None);
        let mut s = AltSpeed {
            up: 20,
            down: 0,
            ..AltSpeed::default()
        };
        assert_eq!(s.effective(normal), normal);
        s.enabled = true;
        assert_eq!(s.effective(normal), (Some(20_000), None));
    }

    #[test]
    fn settings_come_from_the_record_and_are_clamped() {
        let mut record = DaemonRecord::default();
        assert_eq!(AltSpeed::of(&record), AltSpeed::default());
        for (k, v) in [
            (ENABLED, Value::from(true)),
            (UP, 7.into()),
            (BEGIN, 99_999.into()),
            (DAYS, 255.into()),
            (END, "x".into()),
        ] {
            record.stored.insert(k.into(), v);
        }
        let s = AltSpeed::of(&record);
        assert!(s.enabled);
        assert_eq!((s.up, s.begin, s.end, s.days), (7, DAY - 1, 1020, 127));
    }
}
