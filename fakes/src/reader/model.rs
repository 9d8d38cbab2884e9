//! The five reader models on the market (docs/DOMAIN.md §2), with lead time, timing and one
//! quirk each. Lead times sit in the public 3–4 month range; the quirks and timings are
//! our choice, to give scenarios something model-specific to trip over.

use std::time::Duration;

/// A face-authentication card reader model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Model {
    /// Fujitsu Japan Caora (FD-CAR1).
    FujitsuCaora,
    /// Panasonic Connect (顔認証付きカードリーダー).
    PanasonicConnect,
    /// Almex SnapID Touch (CP-S1000).
    AlmexSnapIdTouch,
    /// Canon MJ Hi-CARA (UF-S1000).
    CanonHiCara,
    /// Atlas EXC-9000.
    AtlasExc9000,
}

/// The one behaviour that sets a model apart (our choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Tries the face twice before offering the PIN (others try once).
    SecondFaceAttempt,
    /// The camera warms up: the first face attempt takes 3 s longer.
    CameraWarmup,
    /// All three consent questions on one screen (faster).
    OneConsentScreen,
    /// After a camera fault the keypad is not offered: straight to the visual check.
    NoKeypadAfterCameraFault,
    /// Slow contactless reading: card reading takes twice as long.
    SlowCardRead,
}

/// Virtual durations of each part of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub card_read: Duration,
    pub face_attempt: Duration,
    pub pin_entry: Duration,
    pub consent_screen: Duration,
    pub visual_check: Duration,
}

impl Model {
    pub const ALL: [Model; 5] = [
        Model::FujitsuCaora,
        Model::PanasonicConnect,
        Model::AlmexSnapIdTouch,
        Model::CanonHiCara,
        Model::AtlasExc9000,
    ];

    pub fn maker(self) -> &'static str {
        match self {
            Model::FujitsuCaora => "Fujitsu Japan",
            Model::PanasonicConnect => "Panasonic Connect",
            Model::AlmexSnapIdTouch => "Almex",
            Model::CanonHiCara => "Canon Marketing Japan",
            Model::AtlasExc9000 => "Atlas",
        }
    }

    pub fn product(self) -> &'static str {
        match self {
            Model::FujitsuCaora => "Caora FD-CAR1",
            Model::PanasonicConnect => "Panasonic face-auth card reader",
            Model::AlmexSnapIdTouch => "SnapID Touch CP-S1000",
            Model::CanonHiCara => "Hi-CARA UF-S1000",
            Model::AtlasExc9000 => "EXC-9000",
        }
    }

    /// Days from order to delivery (public range: 3–4 months).
    pub fn lead_time_days(self) -> u32 {
        match self {
            Model::FujitsuCaora => 90,
            Model::PanasonicConnect => 105,
            Model::AlmexSnapIdTouch => 120,
            Model::CanonHiCara => 100,
            Model::AtlasExc9000 => 110,
        }
    }

    pub fn quirk(self) -> Quirk {
        match self {
            Model::FujitsuCaora => Quirk::SecondFaceAttempt,
            Model::PanasonicConnect => Quirk::CameraWarmup,
            Model::AlmexSnapIdTouch => Quirk::OneConsentScreen,
            Model::CanonHiCara => Quirk::NoKeypadAfterCameraFault,
            Model::AtlasExc9000 => Quirk::SlowCardRead,
        }
    }

    pub fn face_attempts(self) -> usize {
        if self.quirk() == Quirk::SecondFaceAttempt {
            2
        } else {
            1
        }
    }

    pub fn timing(self) -> Timing {
        Timing {
            card_read: Duration::from_millis(1500),
            face_attempt: Duration::from_millis(2500),
            pin_entry: Duration::from_secs(8),
            consent_screen: Duration::from_secs(4),
            visual_check: Duration::from_secs(60),
        }
    }
}
