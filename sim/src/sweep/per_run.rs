//! `--per-run FILE`: one tidy row per replication, as Parquet (the `parquet` crate's
//! column writers, Snappy pages) or CSV (the `csv` crate), written to a temporary file
//! beside FILE and renamed into place when complete. The columns are in
//! docs/per-run-schema.md and defined once in [`super::rows::columns`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::rows::{cell, columns, days_since_epoch, Cell, Col, Kind, RowSink, RunRow, VariantCols};
use super::vary::Variant;

/// Marker in the Parquet key-value metadata (`onsim.format`) and nowhere else.
pub const PER_RUN_FORMAT: &str = "onsim-per-run/1";

/// Rows per Parquet row group *(our choice: 2¹⁷, a few MB of pages; readers can skip
/// groups by their statistics)*.
pub const ROW_GROUP: usize = 1 << 17;

/// The file format, from FILE's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerRunFormat {
    Parquet,
    Csv,
}

impl PerRunFormat {
    pub fn of_path(p: &Path) -> Result<PerRunFormat, String> {
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("parquet") => Ok(PerRunFormat::Parquet),
            Some("csv") => Ok(PerRunFormat::Csv),
            _ => Err(format!(
                "--per-run {}: the file name must end in .parquet or .csv",
                p.display()
            )),
        }
    }
}

enum Sink {
    Parquet(Box<SerializedFileWriter<File>>),
    Csv(Box<csv::Writer<File>>),
}

/// A `--per-run` file being written. Nothing appears at FILE until [`finish`]
/// (`PerRunFile::finish`) succeeds; dropped unfinished, the temporary file goes.
pub struct PerRunFile {
    path: PathBuf,
    format: PerRunFormat,
    vary_keys: Vec<String>,
    tmp: Option<tempfile::NamedTempFile>,
    sink: Option<Sink>,
    columns: Vec<(String, Col)>,
    variants: Vec<VariantCols>,
    /// Rows not yet in a row group (Parquet only).
    pending: Vec<(usize, RunRow)>,
    rows: u64,
}

impl PerRunFile {
    /// Check FILE's extension (the error names `--per-run`); nothing is created yet.
    pub fn new(path: &Path, vary_keys: Vec<String>) -> Result<PerRunFile, String> {
        let format = PerRunFormat::of_path(path)?;
        let columns = columns(&vary_keys);
        let mut names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!(
                "--per-run: two columns would be named {:?} (a --vary key clashes with a column)",
                w[0]
            ));
        }
        Ok(PerRunFile {
            path: path.to_path_buf(),
            format,
            vary_keys,
            tmp: None,
            sink: None,
            columns,
            variants: Vec::new(),
            pending: Vec::new(),
            rows: 0,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> String {
        format!("--per-run {}: cannot write: {e}", self.path.display())
    }

    fn schema(&self) -> Result<Type, String> {
        let mut fields = Vec::new();
        for (name, col) in &self.columns {
            let (physical, logical) = match col.kind() {
                Kind::I32 => (Physical::INT32, None),
                Kind::U64 => (
                    Physical::INT64,
                    Some(LogicalType::Integer {
                        bit_width: 64,
                        is_signed: false,
                    }),
                ),
                Kind::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                Kind::Date => (Physical::INT32, Some(LogicalType::Date)),
                Kind::Bool => (Physical::BOOLEAN, None),
            };
            let rep = if col.nullable() {
                Repetition::OPTIONAL
            } else {
                Repetition::REQUIRED
            };
            let t = Type::primitive_type_builder(name, physical)
                .with_repetition(rep)
                .with_logical_type(logical)
                .build()
                .map_err(|e| self.err(e))?;
            fields.push(Arc::new(t));
        }
        Type::group_type_builder("onsim_per_run")
            .with_fields(fields)
            .build()
            .map_err(|e| self.err(e))
    }

    fn open(&mut self) -> Result<(), String> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("--per-run: cannot create folder {}: {e}", dir.display()))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // Readable like any other output file (a temporary file is private by default).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder.tempfile_in(&dir).map_err(|e| self.err(e))?;
        let file = tmp.as_file().try_clone().map_err(|e| self.err(e))?;
        let sink = match self.format {
            PerRunFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_key_value_metadata(Some(vec![KeyValue::new(
                        "onsim.format".to_string(),
                        PER_RUN_FORMAT.to_string(),
                    )]))
                    .build();
                let w = SerializedFileWriter::new(file, Arc::new(self.schema()?), Arc::new(props))
                    .map_err(|e| self.err(e))?;
                Sink::Parquet(Box::new(w))
            }
            PerRunFormat::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(file);
                w.write_record(self.columns.iter().map(|(n, _)| n.as_str()))
                    .map_err(|e| self.err(e))?;
                Sink::Csv(Box::new(w))
            }
        };
        self.tmp = Some(tmp);
        self.sink = Some(sink);
        Ok(())
    }

    fn csv_rows(&mut self, vi: usize, rows: &[RunRow]) -> Result<(), String> {
        let v = &self.variants[vi];
        let Some(Sink::Csv(w)) = self.sink.as_mut() else {
            return Ok(());
        };
        let mut record: Vec<String> = Vec::with_capacity(self.columns.len());
        for row in rows {
            record.clear();
            for (_, col) in &self.columns {
                record.push(match cell(*col, vi, v, row) {
                    Cell::I32(x) => x.map(|x| x.to_string()).unwrap_or_default(),
                    Cell::U64(x) => x.to_string(),
                    Cell::Str(x) => x.unwrap_or_default().to_string(),
                    Cell::Date(x) => x.map(|d| d.to_string()).unwrap_or_default(),
                    Cell::Bool(x) => x.to_string(),
                });
            }
            w.write_record(&record)
                .map_err(|e| format!("--per-run {}: cannot write: {e}", self.path.display()))?;
        }
        Ok(())
    }

    /// Write the pending rows as one row group.
    fn flush_group(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.path.display().to_string();
        let err = |e: parquet::errors::ParquetError| format!("--per-run {path}: cannot write: {e}");
        let Some(Sink::Parquet(w)) = self.sink.as_mut() else {
            return Ok(());
        };
        let mut group = w.next_row_group().map_err(err)?;
        for (_, col) in &self.columns {
            let mut cw = group
                .next_column()
                .map_err(err)?
                .ok_or_else(|| format!("--per-run {path}: the schema lost a column"))?;
            let cells = self
                .pending
                .iter()
                .map(|(vi, row)| cell(*col, *vi, &self.variants[*vi], row));
            let mut def: Vec<i16> = Vec::with_capacity(self.pending.len());
            let defs = col.nullable();
            match col.kind() {
                Kind::I32 | Kind::Date => {
                    let mut vals = Vec::with_capacity(self.pending.len());
                    for c in cells {
                        let x = match c {
                            Cell::I32(x) => x,
                            Cell::Date(d) => d.map(days_since_epoch),
                            _ => None,
                        };
                        def.push(i16::from(x.is_some()));
                        vals.extend(x);
                    }
                    cw.typed::<Int32Type>()
                        .write_batch(&vals, defs.then_some(&def[..]), None)
                        .map_err(err)?;
                }
                Kind::U64 => {
                    let vals: Vec<i64> = cells
                        .map(|c| match c {
                            // Stored as the same 64 bits, read back as UINT_64.
                            Cell::U64(x) => x as i64,
                            _ => 0,
                        })
                        .collect();
                    cw.typed::<Int64Type>()
                        .write_batch(&vals, None, None)
                        .map_err(err)?;
                }
                Kind::Str => {
                    let mut vals = Vec::with_capacity(self.pending.len());
                    for c in cells {
                        let x = match c {
                            Cell::Str(x) => x,
                            _ => None,
                        };
                        def.push(i16::from(x.is_some()));
                        vals.extend(x.map(ByteArray::from));
                    }
                    cw.typed::<ByteArrayType>()
                        .write_batch(&vals, defs.then_some(&def[..]), None)
                        .map_err(err)?;
                }
                Kind::Bool => {
                    let vals: Vec<bool> = cells.map(|c| matches!(c, Cell::Bool(true))).collect();
                    cw.typed::<BoolType>()
                        .write_batch(&vals, None, None)
                        .map_err(err)?;
                }
            }
            cw.close().map_err(err)?;
        }
        group.close().map_err(err)?;
        self.pending.clear();
        Ok(())
    }

    /// Finish the file and rename it into place; returns the number of rows.
    pub fn finish(mut self) -> Result<u64, String> {
        if self.sink.is_none() {
            self.open()?;
        }
        self.flush_group()?;
        let file = match self.sink.take() {
            Some(Sink::Parquet(w)) => w.into_inner().map_err(|e| self.err(e))?,
            Some(Sink::Csv(w)) => w.into_inner().map_err(|e| self.err(e.error()))?,
            None => unreachable!("opened above"),
        };
        file.sync_all().map_err(|e| self.err(e))?;
        let tmp = self.tmp.take().expect("opened above");
        tmp.persist(&self.path).map_err(|e| self.err(e.error))?;
        Ok(self.rows)
    }
}

impl RowSink for PerRunFile {
    fn begin(&mut self, variants: &[Variant]) -> Result<(), String> {
        self.variants = variants
            .iter()
            .map(|v| VariantCols {
                label: v.label(),
                values: self
                    .vary_keys
                    .iter()
                    .map(|k| {
                        v.settings
                            .iter()
                            .find(|(key, _)| key == k)
                            .map(|(_, val)| val.clone())
                            .unwrap_or_default()
                    })
                    .collect(),
                rules: v.scenario.spec.scenario.rules.id().to_string(),
                bureau: v.scenario.bureau.id().to_string(),
                designation: v.scenario.spec.clinic.designation,
            })
            .collect();
        self.open()
    }

    fn rows(&mut self, variant: usize, rows: &[RunRow]) -> Result<(), String> {
        self.rows += rows.len() as u64;
        match self.format {
            PerRunFormat::Csv => self.csv_rows(variant, rows),
            PerRunFormat::Parquet => {
                for r in rows {
                    self.pending.push((variant, r.clone()));
                    if self.pending.len() >= ROW_GROUP {
                        self.flush_group()?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::measure::SLACKS;
    use crate::sweep::rows::FLAGS;

    #[test]
    fn extension_picks_the_format() {
        assert_eq!(
            PerRunFormat::of_path(Path::new("a/b.parquet")),
            Ok(PerRunFormat::Parquet)
        );
        assert_eq!(
            PerRunFormat::of_path(Path::new("b.CSV")),
            Ok(PerRunFormat::Csv)
        );
        for bad in ["b.json", "b", "parquet"] {
            let e = PerRunFormat::of_path(Path::new(bad)).unwrap_err();
            assert!(e.contains("--per-run"), "{e}");
        }
    }

    #[test]
    fn columns_are_unique_and_a_clash_is_refused() {
        let c = columns(&["scenario.rules".to_string()]);
        assert_eq!(c.len(), 2 + 1 + 8 + SLACKS.len() + 1 + FLAGS.len());
        assert!(PerRunFile::new(Path::new("x.csv"), vec!["outcome".into()]).is_err());
    }
}
