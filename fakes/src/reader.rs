//! The simulated face-authentication card reader (顔認証付きカードリーダー).
