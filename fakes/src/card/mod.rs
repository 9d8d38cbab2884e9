//! The virtual My Number card (マイナンバーカード) speaking ISO 7816-4 APDUs.
