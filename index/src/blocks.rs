//! Matches handed to our collectors a block at a time, also in segments with deletes.
//!
//! tantivy's default `collect_segment` hands a collector blocks of up to 64 documents only
//! when the segment has no deletes; otherwise it calls `collect` once per alive document.
//! Upserts delete, so most segments of a live index have deletes, and our collectors read
//! their columns a block at a time (see [`crate::columns::first_values`]): one issue's 27k
//! events counted by release and environment went through the per-document path. Here the
//! alive documents of each block are kept and the block goes on as one.

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocId, SegmentOrdinal, SegmentReader};

/// `collector`'s fruit for one segment: every alive match of `weight`, in blocks. For
/// collectors that do not score (ours never do).
pub(crate) fn collect_segment<C: Collector>(
    collector: &C,
    weight: &dyn Weight,
    segment_ord: SegmentOrdinal,
    reader: &SegmentReader,
) -> tantivy::Result<<C::Child as SegmentCollector>::Fruit> {
    debug_assert!(!collector.requires_scoring());
    let mut segment = collector.for_segment(segment_ord, reader)?;
    match reader.alive_bitset() {
        None => weight.for_each_no_score(reader, &mut |docs| segment.collect_block(docs))?,
        Some(alive) => {
            let mut kept = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
            weight.for_each_no_score(reader, &mut |docs| {
                for docs in docs.chunks(COLLECT_BLOCK_BUFFER_LEN) {
                    // Written always, counted only when alive: no branch to mispredict.
                    let mut n = 0;
                    for &doc in docs {
                        kept[n] = doc;
                        n += usize::from(alive.is_alive(doc));
                    }
                    if n > 0 {
                        segment.collect_block(&kept[..n]);
                    }
                }
            })?;
        }
    }
    Ok(segment.harvest())
}

/// `Collector::collect_segment` for a collector whose matches come through
/// [`collect_segment`]; every collector of ours takes them so.
macro_rules! collect_in_blocks {
    () => {
        fn collect_segment(
            &self,
            weight: &dyn tantivy::query::Weight,
            segment_ord: tantivy::SegmentOrdinal,
            reader: &tantivy::SegmentReader,
        ) -> tantivy::Result<<Self::Child as tantivy::collector::SegmentCollector>::Fruit> {
            crate::blocks::collect_segment(self, weight, segment_ord, reader)
        }
    };
}
pub(crate) use collect_in_blocks;

#[cfg(test)]
mod tests {
    use tantivy::collector::{Count, DocSetCollector};
    use tantivy::query::AllQuery;
    use tantivy::schema::{INDEXED, STRING, Schema};
    use tantivy::{DocAddress, Index, Term, doc};

    use super::*;

    /// Every alive document's address, gathered through [`collect_segment`].
    struct Blocks;

    struct BlocksSegment {
        segment: SegmentOrdinal,
        docs: Vec<DocAddress>,
        blocks: usize,
    }

    impl Collector for Blocks {
        type Fruit = (Vec<DocAddress>, usize);
        type Child = BlocksSegment;

        fn for_segment(
            &self,
            segment: SegmentOrdinal,
            _: &SegmentReader,
        ) -> tantivy::Result<BlocksSegment> {
            Ok(BlocksSegment {
                segment,
                docs: Vec::new(),
                blocks: 0,
            })
        }

        fn requires_scoring(&self) -> bool {
            false
        }

        fn merge_fruits(
            &self,
            fruits: Vec<(Vec<DocAddress>, usize)>,
        ) -> tantivy::Result<Self::Fruit> {
            let blocks = fruits.iter().map(|f| f.1).sum();
            Ok((fruits.into_iter().flat_map(|f| f.0).collect(), blocks))
        }

        collect_in_blocks!();
    }

    impl SegmentCollector for BlocksSegment {
        type Fruit = (Vec<DocAddress>, usize);

        fn collect(&mut self, _: DocId, _: tantivy::Score) {
            unreachable!("documents come in blocks");
        }

        fn collect_block(&mut self, docs: &[DocId]) {
            self.blocks += 1;
            let segment = self.segment;
            self.docs
                .extend(docs.iter().map(|&d| DocAddress::new(segment, d)));
        }

        fn harvest(self) -> Self::Fruit {
            (self.docs, self.blocks)
        }
    }

    #[test]
    fn deleted_documents_are_left_out_of_the_blocks() {
        let mut schema = Schema::builder();
        let id = schema.add_text_field("id", STRING);
        let n = schema.add_u64_field("n", INDEXED);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for i in 0..1000u64 {
            writer
                .add_document(doc!(id => i.to_string(), n => i))
                .unwrap();
        }
        writer.commit().unwrap();
        for i in (0..1000u64).filter(|i| i % 3 == 0 || (200..400).contains(i)) {
            writer.delete_term(Term::from_field_text(id, &i.to_string()));
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers()[0].alive_bitset().is_some());

        let (docs, blocks) = searcher.search(&AllQuery, &Blocks).unwrap();
        let expected = searcher.search(&AllQuery, &DocSetCollector).unwrap();
        assert_eq!(docs.len(), searcher.search(&AllQuery, &Count).unwrap());
        assert_eq!(
            docs.iter()
                .copied()
                .collect::<std::collections::HashSet<_>>(),
            expected
        );
        assert!(
            blocks < docs.len() / 32,
            "{blocks} blocks for {} documents",
            docs.len()
        );
    }
}
