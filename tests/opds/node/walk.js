// Walks comicsrv's OPDS catalogues as Thorium does, with Readium's parser
// (r2-opds-js): every OPDS 1.2 feed is parsed and converted to OPDS 2, every
// OPDS 2 feed deserialised, from the root down to a page image reached
// through OPDS-PSE, and to a page of a Readium manifest.
//
//   node walk.js BASE_URL USER PASSWORD
//
// Prints one JSON summary on stdout; exits non-zero on the first failure.
"use strict";
const { DOMParser } = require("@xmldom/xmldom");
const globals = require("r2-opds-js/dist/es8-es2017/src/opds/init-globals");
const { XML } = require("r2-utils-js/dist/es8-es2017/src/_utils/xml-js-mapper");
const { OPDS } = require("r2-opds-js/dist/es8-es2017/src/opds/opds1/opds");
const { convertOpds1ToOpds2 } = require("r2-opds-js/dist/es8-es2017/src/opds/converter");
const { OPDSFeed } = require("r2-opds-js/dist/es8-es2017/src/opds/opds2/opds2");
const { TaJsonDeserialize } = require("r2-lcp-js/dist/es8-es2017/src/serializable");

globals.initGlobalConverters_GENERIC();
globals.initGlobalConverters_OPDS();

const [base, user, password] = process.argv.slice(2);
const auth = "Basic " + Buffer.from(`${user}:${password}`).toString("base64");
const PSE = "http://vaemendis.net/opds-pse/ns";
const STREAM = "http://vaemendis.net/opds-pse/stream";
const ATOM = "http://www.w3.org/2005/Atom";
const CBZ = "application/vnd.comicbook+zip";
const LIMIT = 60;

async function get(url) {
  const response = await fetch(url, { headers: { Authorization: auth } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function walkOpds1() {
  const seen = new Set();
  const queue = [`${base}/opds/v1.2/catalog`];
  const streams = [];
  let entries = 0;
  while (queue.length && seen.size < LIMIT) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const text = await (await get(url)).text();
    const dom = new DOMParser().parseFromString(text, "application/xml");
    const feed = XML.deserialize(dom, OPDS);
    if (!feed.Title) throw new Error(`${url}: no title`);
    const converted = convertOpds1ToOpds2(feed);  // what Thorium shows
    entries += (feed.Entries || []).length;
    for (const link of [...(feed.Links || []), ...(feed.Entries || []).flatMap((e) => e.Links || [])]) {
      if (link.Type && link.Type.startsWith("application/atom+xml") && link.Rel !== "search") {
        queue.push(new URL(link.Href, url).href);
      }
    }
    // pse:count is not in r2-opds-js's model: read it from the parsed DOM.
    for (const entry of Array.from(dom.getElementsByTagNameNS(ATOM, "entry"))) {
      const links = Array.from(entry.getElementsByTagNameNS(ATOM, "link"));
      const link = links.find((l) => l.getAttribute("rel") === STREAM);
      const file = links.find((l) => l.getAttribute("rel") === "http://opds-spec.org/acquisition");
      if (!link) continue;
      // A template: fill it in before resolving (URL() would escape the braces).
      streams.push({ href: link.getAttribute("href"), base: url,
                     type: link.getAttribute("type"),
                     file: file ? file.getAttribute("type") : null,
                     count: Number(link.getAttributeNS(PSE, "count")) });
    }
    if (!converted.Metadata || converted.Metadata.Title !== feed.Title) {
      throw new Error(`${url}: conversion to OPDS 2 lost the title`);
    }
  }
  if (!streams.length) throw new Error("no page-streaming link in any feed");
  const stream = streams.find((s) => s.file === CBZ) || streams[0];
  const filled = stream.href.replace("{pageNumber}", "0").replace("{maxWidth}", "400");
  const page = await get(new URL(filled, stream.base).href);
  const bytes = Buffer.from(await page.arrayBuffer());
  return { feeds: seen.size, entries, streams: streams.length,
           page: { type: page.headers.get("content-type"), declared: stream.type,
                   bytes: bytes.length, magic: bytes.subarray(0, 4).toString("hex"),
                   count: stream.count } };
}

async function walkOpds2() {
  const seen = new Set();
  const queue = [`${base}/opds/v2.0/catalog`];
  const publications = [];
  while (queue.length && seen.size < LIMIT) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const json = await (await get(url)).json();
    const feed = TaJsonDeserialize(json, OPDSFeed);
    if (!feed.Metadata || !feed.Metadata.Title) throw new Error(`${url}: no title`);
    for (const link of [...(feed.Links || []), ...(feed.Navigation || [])]) {
      if (link.TypeLink === "application/opds+json" && !link.Templated) {
        queue.push(new URL(link.Href, url).href);
      }
    }
    publications.push(...(feed.Publications || []));
  }
  if (!publications.length) throw new Error("no publication in any OPDS 2 feed");
  const self = publications[0].Links.find((l) => l.HasRel("self"));
  const manifest = await (await get(self.Href)).json();
  const first = manifest.readingOrder[0];
  const page = await get(first.href);
  const bytes = Buffer.from(await page.arrayBuffer());
  const progression = publications[0].Links.find(
    (l) => l.HasRel("http://www.cantook.com/api/progression"));
  return { feeds: seen.size, publications: publications.length,
           pages: manifest.readingOrder.length, progression: Boolean(progression),
           page: { type: page.headers.get("content-type"), declared: first.type,
                   bytes: bytes.length } };
}

(async () => {
  const result = { opds1: await walkOpds1(), opds2: await walkOpds2() };
  process.stdout.write(JSON.stringify(result) + "\n");
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(1);
});
