//! ISO 7816-4 command APDUs (short form only, like the real JPKI applet) and the status
//! words the card answers with.

/// Status words (SW1SW2).
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub const FILE_NOT_FOUND: u16 = 0x6A82;
    pub const SECURITY_NOT_SATISFIED: u16 = 0x6982;
    pub const AUTH_BLOCKED: u16 = 0x6983;
    pub const NO_CURRENT_EF: u16 = 0x6986;
    pub const INCORRECT_P1P2: u16 = 0x6A86;
    pub const WRONG_OFFSET: u16 = 0x6B00;
    /// No precise diagnosis: what a reader reports for a card that is not powered.
    pub const NO_DIAGNOSIS: u16 = 0x6F00;

    /// `63Cx`: PIN wrong (or PIN status), `x` tries left.
    pub fn tries_left(x: u8) -> u16 {
        0x63C0 | u16::from(x.min(15))
    }
}

/// A parsed short command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    /// Command data (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// Expected response length; `Some(256)` for an Le byte of 00.
    pub le: Option<usize>,
}

impl<'a> Command<'a> {
    /// Parse the four ISO cases of a short APDU. Extended APDUs (Lc byte 00 followed by
    /// two length bytes) are not supported by the card and answer `6700`.
    pub fn parse(b: &'a [u8]) -> Result<Command<'a>, u16> {
        if b.len() < 4 {
            return Err(sw::WRONG_LENGTH);
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let body = &b[4..];
        let le_of = |x: u8| if x == 0 { 256 } else { usize::from(x) };
        let (data, le) = match body.len() {
            0 => (&body[..0], None),
            1 => (&body[..0], Some(le_of(body[0]))),
            n => {
                let lc = usize::from(body[0]);
                if lc == 0 {
                    return Err(sw::WRONG_LENGTH);
                }
                if n == 1 + lc {
                    (&body[1..], None)
                } else if n == 2 + lc {
                    (&body[1..1 + lc], Some(le_of(body[1 + lc])))
                } else {
                    return Err(sw::WRONG_LENGTH);
                }
            }
        };
        Ok(Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }

    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.p1, self.p2])
    }
}

/// Append a status word to response data.
pub fn respond(mut data: Vec<u8>, status: u16) -> Vec<u8> {
    data.extend_from_slice(&status.to_be_bytes());
    data
}

/// A response that is only a status word.
pub fn status(status: u16) -> Vec<u8> {
    status.to_be_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let c = Command::parse(&[0, 0xB0, 0, 0]).unwrap();
        assert_eq!((c.data.len(), c.le), (0, None));
        let c = Command::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0, 0xA4, 2, 0x0C, 2, 0, 0x0A]).unwrap();
        assert_eq!((c.data, c.le), (&[0u8, 0x0A][..], None));
        let c = Command::parse(&[0x80, 0x2A, 0, 0x80, 1, 9, 0]).unwrap();
        assert_eq!((c.data, c.le), (&[9u8][..], Some(256)));
        assert_eq!(Command::parse(&[0, 0xA4, 2]), Err(sw::WRONG_LENGTH));
        assert_eq!(
            Command::parse(&[0, 0xA4, 2, 0x0C, 3, 0]),
            Err(sw::WRONG_LENGTH)
        );
        assert_eq!(
            Command::parse(&[0, 0xA4, 2, 0x0C, 0, 0, 2]),
            Err(sw::WRONG_LENGTH)
        );
    }
}
