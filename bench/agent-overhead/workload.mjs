// The data both sides of the benchmark agree on: the service's in-memory catalog and the
// request bodies the load generator sends. Deterministic (seeded), so every variant and every
// round serves exactly the same work.
import { prng } from '../prng.mjs'

const WORDS = [
  'steel',
  'oak',
  'linen',
  'matte',
  'classic',
  'compact',
  'pro',
  'outdoor',
  'travel',
  'kitchen',
  'desk',
  'lamp',
  'chair',
  'kettle',
  'jacket',
  'boot',
  'pack',
  'bottle',
  'cable',
  'charger',
  'organic',
  'wool',
  'cotton',
  'ceramic',
  'glass',
  'bamboo',
  'smart',
  'wireless',
  'mini',
  'max',
  'blue',
  'black',
  'white',
  'green',
  'red',
  'grey',
  'large',
  'small',
  'set',
  'kit',
]
const CATEGORIES = ['home', 'garden', 'office', 'outdoor', 'apparel', 'electronics', 'kitchen']

function pick(rand, list) {
  return list[Math.floor(rand() * list.length)]
}

/** The service's catalog: `count` products with names, tags, prices and stock per warehouse. */
export function makeCatalog(count = 4000, seed = 42) {
  const rand = prng(seed)
  const products = []
  for (let i = 0; i < count; i++) {
    const name = [pick(rand, WORDS), pick(rand, WORDS), pick(rand, WORDS)].join(' ')
    products.push({
      sku: `SKU-${String(i).padStart(6, '0')}`,
      name,
      category: pick(rand, CATEGORIES),
      tags: [pick(rand, WORDS), pick(rand, WORDS)],
      priceCents: 199 + Math.floor(rand() * 50_000),
      rating: Math.round(rand() * 50) / 10,
      stock: { ams: Math.floor(rand() * 100), fra: Math.floor(rand() * 100) },
    })
  }
  return products
}

/** A realistic checkout body (~2 KB of JSON): a customer, an address and `lines` order lines. */
export function makeOrder(seed, lines = 30) {
  const rand = prng(seed)
  return {
    orderId: `ord-${seed}`,
    currency: 'EUR',
    customer: {
      id: `cus-${Math.floor(rand() * 1e6)}`,
      email: `user${seed}@example.com`,
      tier: pick(rand, ['basic', 'silver', 'gold']),
      address: {
        line1: `${Math.floor(rand() * 200)} ${pick(rand, WORDS)} street`,
        city: pick(rand, ['Amsterdam', 'Berlin', 'Lyon', 'Porto', 'Krakow']),
        country: pick(rand, ['NL', 'DE', 'FR', 'PT', 'PL']),
        postcode: String(10000 + Math.floor(rand() * 89999)),
      },
    },
    coupon: rand() < 0.3 ? 'SPRING10' : null,
    lines: Array.from({ length: lines }, () => ({
      sku: `SKU-${String(Math.floor(rand() * 4000)).padStart(6, '0')}`,
      quantity: 1 + Math.floor(rand() * 4),
      giftWrap: rand() < 0.1,
      note: rand() < 0.2 ? `please ${pick(rand, WORDS)} ${pick(rand, WORDS)}` : '',
    })),
  }
}

/** Search terms the load generator cycles through. */
export const QUERIES = Array.from({ length: 24 }, (_, i) => {
  const rand = prng(1000 + i)
  return `${pick(rand, WORDS)} ${pick(rand, WORDS)}`
})
