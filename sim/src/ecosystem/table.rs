//! A small columnar table written as CSV (the `csv` crate) and Parquet (the
//! `parquet` crate's column writers, Snappy pages), the same crates and encodings as
//! `onsim sweep --per-run` (docs/per-run-schema.md): strings as UTF8, dates as DATE
//! (days since 1970-01-01), counts as INT32, the seed as INT64 (UINT_64); an empty
//! CSV cell is a missing value.

use std::sync::Arc;

use chrono::NaiveDate;
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::sweep::rows::days_since_epoch;

/// One column's values.
pub enum Values {
    I32(Vec<Option<i32>>),
    U64(Vec<u64>),
    Str(Vec<String>),
    Date(Vec<Option<NaiveDate>>),
}

pub struct Column {
    pub name: &'static str,
    pub nullable: bool,
    pub values: Values,
}

pub struct Table {
    pub columns: Vec<Column>,
}

impl Table {
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| match &c.values {
            Values::I32(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::Str(v) => v.len(),
            Values::Date(v) => v.len(),
        })
    }

    /// The table as CSV bytes (header first, `\n` line ends).
    pub fn csv(&self) -> Result<Vec<u8>, String> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        w.write_record(self.columns.iter().map(|c| c.name))
            .map_err(|e| e.to_string())?;
        let mut rec: Vec<String> = Vec::with_capacity(self.columns.len());
        for r in 0..self.rows() {
            rec.clear();
            for c in &self.columns {
                rec.push(match &c.values {
                    Values::I32(v) => v[r].map(|x| x.to_string()).unwrap_or_default(),
                    Values::U64(v) => v[r].to_string(),
                    Values::Str(v) => v[r].clone(),
                    Values::Date(v) => v[r].map(|d| d.to_string()).unwrap_or_default(),
                });
            }
            w.write_record(&rec).map_err(|e| e.to_string())?;
        }
        w.into_inner().map_err(|e| e.to_string())
    }

    /// The table as Parquet bytes, one row group; `format` goes into the key-value
    /// metadata as `onsim.format`.
    pub fn parquet(&self, schema_name: &str, format: &str) -> Result<Vec<u8>, String> {
        let err = |e: parquet::errors::ParquetError| e.to_string();
        let mut fields = Vec::new();
        for c in &self.columns {
            let (physical, logical) = match c.values {
                Values::I32(_) => (Physical::INT32, None),
                Values::U64(_) => (
                    Physical::INT64,
                    Some(LogicalType::Integer {
                        bit_width: 64,
                        is_signed: false,
                    }),
                ),
                Values::Str(_) => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Values::Date(_) => (Physical::INT32, Some(LogicalType::Date)),
            };
            let rep = if c.nullable {
                Repetition::OPTIONAL
            } else {
                Repetition::REQUIRED
            };
            fields.push(Arc::new(
                Type::primitive_type_builder(c.name, physical)
                    .with_repetition(rep)
                    .with_logical_type(logical)
                    .build()
                    .map_err(err)?,
            ));
        }
        let schema = Type::group_type_builder(schema_name)
            .with_fields(fields)
            .build()
            .map_err(err)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                "onsim.format".to_string(),
                format.to_string(),
            )]))
            .build();
        let mut buf = Vec::new();
        {
            let mut w = SerializedFileWriter::new(&mut buf, Arc::new(schema), Arc::new(props))
                .map_err(err)?;
            let mut group = w.next_row_group().map_err(err)?;
            for c in &self.columns {
                let mut cw = group
                    .next_column()
                    .map_err(err)?
                    .ok_or_else(|| "the schema lost a column".to_string())?;
                match &c.values {
                    Values::I32(v) => {
                        let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
                        let vals: Vec<i32> = v.iter().flatten().copied().collect();
                        cw.typed::<Int32Type>()
                            .write_batch(&vals, c.nullable.then_some(&def[..]), None)
                            .map_err(err)?;
                    }
                    Values::Date(v) => {
                        let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
                        let vals: Vec<i32> =
                            v.iter().flatten().map(|d| days_since_epoch(*d)).collect();
                        cw.typed::<Int32Type>()
                            .write_batch(&vals, c.nullable.then_some(&def[..]), None)
                            .map_err(err)?;
                    }
                    Values::U64(v) => {
                        let vals: Vec<i64> = v.iter().map(|x| *x as i64).collect();
                        cw.typed::<Int64Type>()
                            .write_batch(&vals, None, None)
                            .map_err(err)?;
                    }
                    Values::Str(v) => {
                        let vals: Vec<ByteArray> =
                            v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                        cw.typed::<ByteArrayType>()
                            .write_batch(&vals, None, None)
                            .map_err(err)?;
                    }
                }
                cw.close().map_err(err)?;
            }
            group.close().map_err(err)?;
            w.close().map_err(err)?;
        }
        Ok(buf)
    }
}
