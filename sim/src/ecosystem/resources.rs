//! The shared resources of one ecosystem run, built from the file, and the gates
//! that tie a clinic's messages to them (docs/ecosystem.md, "Gates").

use chrono::NaiveDate;

use fakes::codes::Bureau;
use fakes::ecosystem::capacity::DailyCapacity;
use fakes::ecosystem::reader_stock::ReaderStock;
use fakes::ecosystem::Service;

use super::file::Ecosystem;

/// Which resource, for the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceId {
    /// A reader maker's stock and production.
    Reader(usize),
    /// A system vendor's installer crews in a region.
    Crews(usize, usize),
    /// A carrier's line openings in a region.
    Lines(usize, usize),
    /// A bureau's answers.
    Answers(usize),
    /// The implementing body's portal accounts.
    Accounts,
}

impl ResourceId {
    /// `reader`, `crews`, `lines`, `answers` or `accounts`.
    pub fn kind(self) -> &'static str {
        match self {
            ResourceId::Reader(_) => "reader",
            ResourceId::Crews(..) => "crews",
            ResourceId::Lines(..) => "lines",
            ResourceId::Answers(_) => "answers",
            ResourceId::Accounts => "accounts",
        }
    }

    /// The resource's name in the outputs, e.g. `crews:vendor-a:kinki`.
    pub fn name(self, eco: &Ecosystem) -> String {
        let s = &eco.spec;
        match self {
            ResourceId::Reader(m) => format!("reader:{}", s.reader_makers[m].name),
            ResourceId::Crews(v, r) => {
                format!("crews:{}:{}", s.system_vendors[v].name, Bureau::ALL[r].id())
            }
            ResourceId::Lines(c, r) => {
                format!("lines:{}:{}", s.carriers[c].name, Bureau::ALL[r].id())
            }
            ResourceId::Answers(b) => format!("answers:{}", Bureau::ALL[b].id()),
            ResourceId::Accounts => "accounts:implementing-body".into(),
        }
    }
}

/// Every shared resource of the run.
pub struct Resources {
    pub makers: Vec<ReaderStock>,
    /// `[vendor][region]`.
    pub crews: Vec<Vec<DailyCapacity>>,
    /// `[carrier][region]`.
    pub lines: Vec<Vec<DailyCapacity>>,
    /// `[bureau]`.
    pub answers: Vec<DailyCapacity>,
    pub accounts: DailyCapacity,
}

impl Resources {
    /// Build every resource with its capacity counted from `origin`.
    pub fn build(eco: &Ecosystem, origin: NaiveDate) -> Resources {
        let s = &eco.spec;
        Resources {
            makers: s
                .reader_makers
                .iter()
                .map(|m| ReaderStock::new(m.stock, m.monthly, m.windows.clone(), origin))
                .collect(),
            crews: s
                .system_vendors
                .iter()
                .zip(&eco.crews)
                .map(|(v, per)| {
                    per.iter()
                        .map(|n| DailyCapacity::new(*n, v.windows.clone(), origin))
                        .collect()
                })
                .collect(),
            lines: s
                .carriers
                .iter()
                .zip(&eco.openings)
                .map(|(c, per)| {
                    per.iter()
                        .map(|n| DailyCapacity::new(*n, c.windows.clone(), origin))
                        .collect()
                })
                .collect(),
            answers: eco
                .answers
                .iter()
                .map(|n| DailyCapacity::new(*n, s.bureaus.windows.clone(), origin))
                .collect(),
            accounts: DailyCapacity::new(
                s.implementing_body.accounts_per_day,
                s.implementing_body.windows.clone(),
                origin,
            ),
        }
    }

    /// Serve a request reaching resource `id` on `day`: the day it is served.
    pub fn serve(&mut self, id: ResourceId, day: NaiveDate) -> NaiveDate {
        match id {
            ResourceId::Reader(m) => self.makers[m].order(day),
            ResourceId::Crews(v, r) => self.crews[v][r].book(day),
            ResourceId::Lines(c, r) => self.lines[c][r].book(day),
            ResourceId::Answers(b) => self.answers[b].book(day),
            ResourceId::Accounts => self.accounts.book(day),
        }
    }

    /// Every resource, in a fixed order.
    pub fn ids(&self) -> Vec<ResourceId> {
        let mut ids: Vec<ResourceId> = (0..self.makers.len()).map(ResourceId::Reader).collect();
        for (v, per) in self.crews.iter().enumerate() {
            ids.extend((0..per.len()).map(|r| ResourceId::Crews(v, r)));
        }
        for (c, per) in self.lines.iter().enumerate() {
            ids.extend((0..per.len()).map(|r| ResourceId::Lines(c, r)));
        }
        ids.extend((0..self.answers.len()).map(ResourceId::Answers));
        ids.push(ResourceId::Accounts);
        ids
    }

    pub fn services(&self, id: ResourceId) -> &[Service] {
        match id {
            ResourceId::Reader(m) => self.makers[m].services(),
            ResourceId::Crews(v, r) => self.crews[v][r].services(),
            ResourceId::Lines(c, r) => self.lines[c][r].services(),
            ResourceId::Answers(b) => self.answers[b].services(),
            ResourceId::Accounts => self.accounts.services(),
        }
    }

    /// Capacity offered on `day`: slots for a daily capacity; for a reader maker,
    /// units made that day (the opening stock on the origin, a lot on each 1st).
    pub fn capacity_on(&mut self, id: ResourceId, day: NaiveDate, origin: NaiveDate) -> u64 {
        match id {
            ResourceId::Reader(m) => {
                if day == origin || chrono::Datelike::day(&day) == 1 {
                    self.makers[m].production_in(day)
                } else {
                    0
                }
            }
            ResourceId::Crews(v, r) => u64::from(self.crews[v][r].capacity_on(day)),
            ResourceId::Lines(c, r) => u64::from(self.lines[c][r].capacity_on(day)),
            ResourceId::Answers(b) => u64::from(self.answers[b].capacity_on(day)),
            ResourceId::Accounts => u64::from(self.accounts.capacity_on(day)),
        }
    }
}
