//! Call quality from `getStats()` samples: RTT, jitter, loss, audio levels, an estimated MOS
//! (a simplified ITU-T G.107 E-model), a one-way-audio alarm and a per-call summary.
//! Pure logic: the shell reads the numbers, this decides what they mean.

/// The audio figures of one `getStats()` report (cumulative counters as the browser gives
/// them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawStats {
    /// When the report was taken (`performance.now()`, ms).
    pub at_ms: f64,
    /// inbound-rtp `packetsReceived`.
    pub packets_received: u64,
    /// inbound-rtp `bytesReceived`.
    pub bytes_received: u64,
    /// inbound-rtp `packetsLost` (may be negative with duplicates).
    pub packets_lost: i64,
    /// inbound-rtp `jitter`, seconds.
    pub jitter_s: f64,
    /// inbound-rtp `audioLevel` (0..1): what we hear.
    pub audio_level_in: f64,
    /// outbound-rtp `packetsSent`.
    pub packets_sent: u64,
    /// outbound-rtp `bytesSent`.
    pub bytes_sent: u64,
    /// media-source `audioLevel` (0..1): what the microphone picks up.
    pub audio_level_out: f64,
    /// Round-trip time (remote-inbound-rtp, else the selected candidate pair), seconds.
    pub rtt_s: Option<f64>,
    /// The transport's DTLS state.
    pub dtls_state: String,
    /// The codec heard (`opus`, `PCMU`, ...).
    pub codec: String,
    /// The negotiated direction is not two-way (hold, either side): silence one way is
    /// expected then, not a fault.
    pub one_way_expected: bool,
}

/// What the UI shows about the call's audio, updated about once a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quality {
    /// Round-trip time in milliseconds, when known.
    pub rtt_ms: Option<u32>,
    /// Inbound jitter in milliseconds.
    pub jitter_ms: f64,
    /// Packet loss over the last interval, percent.
    pub loss_pct: f64,
    /// Audio level heard (0..1).
    pub level_in: f64,
    /// Audio level sent (0..1).
    pub level_out: f64,
    /// Estimated MOS (1 to 4.5).
    pub mos: f64,
    /// Packets received so far.
    pub packets_received: u64,
    /// Packets sent so far.
    pub packets_sent: u64,
    /// DTLS state of the transport.
    pub dtls_state: String,
    /// The codec heard.
    pub codec: String,
}

/// A one-way-audio alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneWay {
    /// We send audio but nothing comes back.
    NothingReceived,
    /// Audio comes in but none goes out.
    NothingSent,
}

impl OneWay {
    /// The sentence for the agent.
    pub fn message(self) -> &'static str {
        match self {
            OneWay::NothingReceived => {
                "One-way audio: your audio is sent, but nothing comes back from the other side"
            }
            OneWay::NothingSent => {
                "One-way audio: you hear the other side, but no audio leaves your microphone"
            }
        }
    }
}

/// How long packets may stop flowing one way before the alarm, in milliseconds.
pub const ONE_WAY_AFTER_MS: f64 = 5_000.0;

/// MOS from the E-model's R factor with latency and loss impairments (G.107, simplified the
/// usual way for narrowband voice).
pub fn estimate_mos(rtt_ms: f64, jitter_ms: f64, loss_pct: f64) -> f64 {
    let latency = rtt_ms / 2.0 + 2.0 * jitter_ms + 10.0;
    let delay_impairment = if latency < 160.0 {
        latency / 40.0
    } else {
        (latency - 120.0) / 10.0
    };
    let r = (93.2 - delay_impairment - 2.5 * loss_pct.max(0.0)).clamp(0.0, 100.0);
    let mos = 1.0 + 0.035 * r + 7.0e-6 * r * (r - 60.0) * (100.0 - r);
    mos.clamp(1.0, 4.5)
}

/// Per-call quality tracking: turns samples into [`Quality`], watches for one-way audio and
/// keeps the figures for the summary.
#[derive(Clone, Debug, Default)]
pub struct Monitor {
    last: Option<RawStats>,
    /// When packets last increased, each way (ms).
    last_in_ms: Option<f64>,
    last_out_ms: Option<f64>,
    started_ms: Option<f64>,
    mos_sum: f64,
    mos_min: Option<f64>,
    samples: u32,
    max_jitter_ms: f64,
    alarm: Option<OneWay>,
    alarms_raised: u32,
}

impl Monitor {
    /// Takes one sample; returns the quality to show and the alarm state.
    pub fn sample(&mut self, s: RawStats) -> (Quality, Option<OneWay>) {
        let now = s.at_ms;
        let started = *self.started_ms.get_or_insert(now);
        let (d_recv, d_lost) = match &self.last {
            Some(prev) => (
                s.packets_received.saturating_sub(prev.packets_received),
                (s.packets_lost - prev.packets_lost).max(0) as u64,
            ),
            None => (s.packets_received, s.packets_lost.max(0) as u64),
        };
        let prev_sent = self.last.as_ref().map_or(0, |p| p.packets_sent);
        let prev_recv = self.last.as_ref().map_or(0, |p| p.packets_received);
        if s.packets_received > prev_recv {
            self.last_in_ms = Some(now);
        }
        if s.packets_sent > prev_sent {
            self.last_out_ms = Some(now);
        }
        let expected = d_recv + d_lost;
        let loss_pct = if expected == 0 {
            0.0
        } else {
            100.0 * d_lost as f64 / expected as f64
        };
        let jitter_ms = s.jitter_s * 1000.0;
        let rtt_ms = s.rtt_s.map(|r| r * 1000.0);
        let mos = estimate_mos(rtt_ms.unwrap_or(0.0), jitter_ms, loss_pct);
        self.samples += 1;
        self.mos_sum += mos;
        self.mos_min = Some(self.mos_min.map_or(mos, |m: f64| m.min(mos)));
        self.max_jitter_ms = self.max_jitter_ms.max(jitter_ms);

        // Quiet one way for ONE_WAY_AFTER_MS while the other way flows (and the call has been
        // up that long, so set-up is not mistaken for a fault).
        if s.one_way_expected {
            // On hold: the quiet direction is meant to be quiet; count from the resume.
            self.last_in_ms = Some(now);
            self.last_out_ms = Some(now);
        }
        let silent_for = |last: Option<f64>| now - last.unwrap_or(started);
        let in_silent = silent_for(self.last_in_ms) >= ONE_WAY_AFTER_MS;
        let out_silent = silent_for(self.last_out_ms) >= ONE_WAY_AFTER_MS;
        let alarm = match (in_silent, out_silent) {
            (true, false) => Some(OneWay::NothingReceived),
            (false, true) => Some(OneWay::NothingSent),
            _ => None,
        };
        if alarm.is_some() && alarm != self.alarm {
            self.alarms_raised += 1;
        }
        self.alarm = alarm;
        let q = Quality {
            rtt_ms: rtt_ms.map(|r| r.round() as u32),
            jitter_ms,
            loss_pct,
            level_in: s.audio_level_in,
            level_out: s.audio_level_out,
            mos,
            packets_received: s.packets_received,
            packets_sent: s.packets_sent,
            dtls_state: s.dtls_state.clone(),
            codec: s.codec.clone(),
        };
        self.last = Some(s);
        (q, alarm)
    }

    /// The call's summary, if any sample was taken.
    pub fn summary(&self) -> Option<Summary> {
        let last = self.last.as_ref()?;
        let expected = last.packets_received + last.packets_lost.max(0) as u64;
        Some(Summary {
            seconds: ((last.at_ms - self.started_ms.unwrap_or(last.at_ms)) / 1000.0).round() as u32,
            mos_avg: self.mos_sum / f64::from(self.samples.max(1)),
            mos_min: self.mos_min.unwrap_or(0.0),
            loss_pct: if expected == 0 {
                0.0
            } else {
                100.0 * last.packets_lost.max(0) as f64 / expected as f64
            },
            max_jitter_ms: self.max_jitter_ms,
            packets_received: last.packets_received,
            packets_sent: last.packets_sent,
            one_way_alarms: self.alarms_raised,
        })
    }
}

/// Quality of a finished call.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Seconds with media statistics.
    pub seconds: u32,
    /// Average estimated MOS.
    pub mos_avg: f64,
    /// Worst estimated MOS.
    pub mos_min: f64,
    /// Loss over the whole call, percent.
    pub loss_pct: f64,
    /// Worst jitter, ms.
    pub max_jitter_ms: f64,
    /// Packets received in all.
    pub packets_received: u64,
    /// Packets sent in all.
    pub packets_sent: u64,
    /// How many times the one-way-audio alarm went off.
    pub one_way_alarms: u32,
}

/// How a call sounds, from its estimated MOS, for the header's meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    /// MOS 4.3 and up.
    Excellent,
    /// 4.0 to 4.3.
    Good,
    /// 3.6 to 4.0: noticeable, still fine to talk.
    Fair,
    /// 3.1 to 3.6: the customer may ask to repeat.
    Poor,
    /// Below 3.1.
    Bad,
}

impl Grade {
    /// The grade of an estimated MOS.
    pub fn of(mos: f64) -> Grade {
        // Tenths, so the thresholds are exact.
        match (mos * 10.0).round() as i32 {
            43.. => Grade::Excellent,
            40..=42 => Grade::Good,
            36..=39 => Grade::Fair,
            31..=35 => Grade::Poor,
            _ => Grade::Bad,
        }
    }

    /// Lit bars of four.
    pub fn bars(self) -> u8 {
        match self {
            Grade::Excellent => 4,
            Grade::Good => 3,
            Grade::Fair => 2,
            Grade::Poor => 1,
            Grade::Bad => 0,
        }
    }

    /// The word shown next to the bars.
    pub fn word(self) -> &'static str {
        match self {
            Grade::Excellent => "Excellent",
            Grade::Good => "Good",
            Grade::Fair => "Fair",
            Grade::Poor => "Poor",
            Grade::Bad => "Bad",
        }
    }

    /// `excellent` … `bad`, for the page's `data-grade`.
    pub fn key(self) -> &'static str {
        match self {
            Grade::Excellent => "excellent",
            Grade::Good => "good",
            Grade::Fair => "fair",
            Grade::Poor => "poor",
            Grade::Bad => "bad",
        }
    }
}

/// `x` with `decimals` digits after the point, without the float formatting machinery of
/// `core::fmt` (it weighs kilobytes in the wasm bundle).
pub fn fixed(x: f64, decimals: u32) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let scale = 10i64.pow(decimals);
    let scaled = (x * scale as f64).round() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    let (int, frac) = (abs / scale as u64, abs % scale as u64);
    // Integer digits by hand: this runs for every stats sample, and `format!` is slow in wasm.
    let mut s = String::with_capacity(12);
    s.push_str(sign);
    dialdeck_web::text::push_number(&mut s, int);
    if decimals > 0 {
        s.push('.');
        let mut digits = String::with_capacity(decimals as usize);
        dialdeck_web::text::push_number(&mut digits, frac);
        for _ in digits.len()..decimals as usize {
            s.push('0');
        }
        s.push_str(&digits);
    }
    s
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} s of audio, MOS {} (worst {}), loss {}%, jitter up to {} ms, \
             {} packets in / {} out",
            self.seconds,
            fixed(self.mos_avg, 1),
            fixed(self.mos_min, 1),
            fixed(self.loss_pct, 1),
            fixed(self.max_jitter_ms, 0),
            self.packets_received,
            self.packets_sent
        )?;
        if self.one_way_alarms > 0 {
            write!(f, ", one-way audio alarms: {}", self.one_way_alarms)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_usual_mos_bands() {
        let g = |mos| Grade::of(mos);
        assert_eq!(g(4.5), Grade::Excellent);
        assert_eq!(g(4.3), Grade::Excellent);
        assert_eq!(g(4.29), Grade::Excellent, "rounded to tenths");
        assert_eq!(g(4.24), Grade::Good);
        assert_eq!(g(4.0), Grade::Good);
        assert_eq!(g(3.9), Grade::Fair);
        assert_eq!(g(3.5), Grade::Poor);
        assert_eq!(g(3.04), Grade::Bad);
        assert_eq!(g(1.0).bars(), 0);
        assert_eq!(g(estimate_mos(20.0, 2.0, 0.0)), Grade::Excellent);
        assert_eq!(g(estimate_mos(20.0, 2.0, 10.0)).bars(), 1);
    }

    #[test]
    fn fixed_point_formatting() {
        assert_eq!(fixed(4.26, 1), "4.3");
        assert_eq!(fixed(0.00412, 4), "0.0041");
        assert_eq!(fixed(-1.5, 0), "-2");
        assert_eq!(fixed(12.0, 2), "12.00");
        assert_eq!(fixed(f64::NAN, 1), "–");
        assert_eq!(fixed(0.05, 1), "0.1");
        assert_eq!(fixed(3.007, 3), "3.007");
        assert_eq!(fixed(-0.4, 0), "0");
    }

    fn raw(at_ms: f64, recv: u64, sent: u64, lost: i64) -> RawStats {
        RawStats {
            at_ms,
            packets_received: recv,
            packets_sent: sent,
            packets_lost: lost,
            jitter_s: 0.004,
            rtt_s: Some(0.02),
            ..RawStats::default()
        }
    }

    #[test]
    fn mos_is_high_on_a_clean_line_and_falls_with_loss_and_delay() {
        let clean = estimate_mos(20.0, 2.0, 0.0);
        assert!(clean > 4.3, "{clean}");
        let lossy = estimate_mos(20.0, 2.0, 10.0);
        assert!(lossy < 3.9 && lossy > 3.0, "{lossy}");
        let far = estimate_mos(600.0, 30.0, 0.0);
        assert!(far < 3.8, "{far}");
        assert_eq!(estimate_mos(5000.0, 500.0, 100.0), 1.0);
    }

    #[test]
    fn loss_is_measured_per_interval() {
        let mut m = Monitor::default();
        m.sample(raw(0.0, 50, 50, 0));
        let (q, _) = m.sample(raw(1000.0, 95, 100, 5));
        assert!((q.loss_pct - 10.0).abs() < 1e-9, "{}", q.loss_pct);
        assert_eq!(q.rtt_ms, Some(20));
    }

    #[test]
    fn one_way_alarm_after_five_seconds_of_nothing_back_and_clears_when_audio_returns() {
        let mut m = Monitor::default();
        let mut alarm = None;
        for i in 0..=4 {
            alarm = m.sample(raw(f64::from(i) * 1000.0, 0, 50 * i as u64, 0)).1;
        }
        assert_eq!(alarm, None, "not before 5 s");
        alarm = m.sample(raw(5000.0, 0, 250, 0)).1;
        assert_eq!(alarm, Some(OneWay::NothingReceived));
        alarm = m.sample(raw(6000.0, 40, 300, 0)).1;
        assert_eq!(alarm, None);
        assert_eq!(m.summary().unwrap().one_way_alarms, 1);
    }

    #[test]
    fn nothing_sent_is_the_reverse_alarm() {
        let mut m = Monitor::default();
        let mut alarm = None;
        for i in 0..=6u64 {
            alarm = m.sample(raw(i as f64 * 1000.0, 50 * i, 3, 0)).1;
        }
        assert_eq!(alarm, Some(OneWay::NothingSent));
    }

    #[test]
    fn no_alarm_while_on_hold_and_the_clock_restarts_at_the_resume() {
        let mut m = Monitor::default();
        m.sample(raw(0.0, 50, 50, 0));
        // Held for 20 s: we keep sending, nothing comes back, as negotiated.
        for i in 1..=20u64 {
            let s = RawStats {
                one_way_expected: true,
                ..raw(i as f64 * 1000.0, 50, 50 + 50 * i, 0)
            };
            assert_eq!(m.sample(s).1, None, "no alarm {i} s into the hold");
        }
        // Resumed, but still nothing back: the alarm waits its five seconds again.
        let mut alarm = None;
        for i in 21..=24u64 {
            alarm = m.sample(raw(i as f64 * 1000.0, 50, 50 + 50 * i, 0)).1;
        }
        assert_eq!(alarm, None, "not before 5 s after the resume");
        alarm = m.sample(raw(25_000.0, 50, 1300, 0)).1;
        assert_eq!(alarm, Some(OneWay::NothingReceived));
    }

    #[test]
    fn summary_covers_the_call() {
        let mut m = Monitor::default();
        assert!(m.summary().is_none());
        m.sample(raw(1000.0, 50, 50, 0));
        m.sample(raw(11000.0, 540, 550, 10));
        let s = m.summary().unwrap();
        assert_eq!(s.seconds, 10);
        assert!((s.loss_pct - 10.0 / 550.0 * 100.0).abs() < 1e-9);
        assert!(s.to_string().contains("MOS"));
    }
}
