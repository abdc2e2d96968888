/** Readable category names and item titles ("Space Opera", "Courtroom Drama", ...). */
import type { Rng } from '../math/rng.js';

interface CategoryWords {
  readonly name: string;
  readonly words: readonly string[];
}

const CATEGORY_WORDS: readonly CategoryWords[] = [
  { name: 'Space Opera', words: ['Nebula', 'Empire', 'Starfall', 'Void', 'Armada', 'Comet', 'Galaxy', 'Orbit', 'Starship', 'Eclipse'] },
  { name: 'Courtroom Drama', words: ['Verdict', 'Witness', 'Jury', 'Testimony', 'Appeal', 'Counsel', 'Objection', 'Gavel', 'Defense', 'Evidence'] },
  { name: 'Romantic Comedy', words: ['Wedding', 'Crush', 'Kiss', 'Valentine', 'Date', 'Honeymoon', 'Sweetheart', 'Proposal', 'Bouquet', 'Flirt'] },
  { name: 'Noir Thriller', words: ['Shadow', 'Alibi', 'Rain', 'Cigarette', 'Dame', 'Midnight', 'Double Cross', 'Neon', 'Gumshoe', 'Precinct'] },
  { name: 'Nature Documentary', words: ['Savanna', 'Reef', 'Tundra', 'Migration', 'Canopy', 'Glacier', 'Wildlife', 'Rainforest', 'Predator', 'Wetlands'] },
  { name: 'Heist Caper', words: ['Vault', 'Score', 'Getaway', 'Diamond', 'Safecracker', 'Job', 'Casino', 'Crew', 'Loot', 'Blueprint'] },
  { name: 'Period Drama', words: ['Manor', 'Countess', 'Estate', 'Inheritance', 'Ballroom', 'Duchess', 'Governess', 'Carriage', 'Heir', 'Parlour'] },
  { name: 'Slasher Horror', words: ['Cabin', 'Scream', 'Mask', 'Camp', 'Basement', 'Hatchet', 'Night', 'Curse', 'Cellar', 'Fog'] },
  { name: 'Animated Family', words: ['Dragon', 'Puppy', 'Toy', 'Kingdom', 'Robot', 'Penguin', 'Treehouse', 'Wish', 'Balloon', 'Friends'] },
  { name: 'Western', words: ['Frontier', 'Outlaw', 'Canyon', 'Sheriff', 'Saloon', 'Stagecoach', 'Dust', 'Gunslinger', 'Ranch', 'Prairie'] },
  { name: 'Cyberpunk', words: ['Circuit', 'Neon City', 'Hacker', 'Chrome', 'Android', 'Grid', 'Implant', 'Signal', 'Syndicate', 'Glitch'] },
  { name: 'Sports Underdog', words: ['Champion', 'Comeback', 'Rookie', 'Playoffs', 'Coach', 'Season', 'Victory', 'Finals', 'Stadium', 'Team'] },
  { name: 'Musical', words: ['Melody', 'Chorus', 'Broadway', 'Encore', 'Rhapsody', 'Serenade', 'Overture', 'Duet', 'Stage', 'Tango'] },
  { name: 'War Epic', words: ['Trench', 'Battalion', 'Frontline', 'Siege', 'Beachhead', 'Regiment', 'Valor', 'Armistice', 'Squadron', 'Ridge'] },
  { name: 'Mockumentary', words: ['Office', 'Band', 'Pageant', 'Campaign', 'Tour', 'Startup', 'Dog Show', 'Reunion', 'Internship', 'Convention'] },
  { name: 'High Fantasy', words: ['Sword', 'Throne', 'Sorcerer', 'Realm', 'Prophecy', 'Elves', 'Dragonstone', 'Crown', 'Quest', 'Rune'] },
  { name: 'Spy Thriller', words: ['Agent', 'Cipher', 'Dossier', 'Mole', 'Embassy', 'Safehouse', 'Protocol', 'Handler', 'Extraction', 'Asset'] },
  { name: 'Coming of Age', words: ['Summer', 'Prom', 'Diary', 'Graduation', 'Bicycle', 'Locker', 'Hometown', 'Friendship', 'Yearbook', 'Road Trip'] },
  { name: 'Disaster', words: ['Tsunami', 'Inferno', 'Volcano', 'Earthquake', 'Meteor', 'Blizzard', 'Flood', 'Tornado', 'Collapse', 'Outbreak'] },
  { name: 'Martial Arts', words: ['Dragon Fist', 'Dojo', 'Master', 'Tiger', 'Temple', 'Kick', 'Sensei', 'Tournament', 'Crane', 'Blade'] },
  { name: 'Political Satire', words: ['Senator', 'Scandal', 'Ballot', 'Spin Doctor', 'Cabinet', 'Filibuster', 'Lobbyist', 'Press Secretary', 'Summit', 'Poll'] },
  { name: 'Cooking Show', words: ['Kitchen', 'Recipe', 'Souffle', 'Chef', 'Feast', 'Bakery', 'Spice', 'Oven', 'Menu', 'Dessert'] },
  { name: 'True Crime', words: ['Case', 'Suspect', 'Cold Case', 'Confession', 'Interrogation', 'Detective', 'Trial', 'Motive', 'Autopsy', 'Stakeout'] },
  { name: 'Time Travel', words: ['Paradox', 'Timeline', 'Chronicle', 'Loop', 'Clockwork', 'Yesterday', 'Tomorrow', 'Epoch', 'Rewind', 'Century'] },
];

const GENERIC_WORDS = ['Story', 'Journey', 'Secret', 'Promise', 'Horizon', 'Stranger', 'River', 'Letter', 'Island', 'Garden'];

/** The display names of the first `n` categories ("Space Opera", ..., then "Genre 25", ...). */
export function categoryNames(n: number): string[] {
  return Array.from({ length: n }, (_, c) => CATEGORY_WORDS[c]?.name ?? `Genre ${c + 1}`);
}

function wordsOf(c: number): readonly string[] {
  return CATEGORY_WORDS[c]?.words ?? GENERIC_WORDS;
}

/** A readable title from the item's category words; some contain commas (the CSV quotes them). */
export function makeTitle(rng: Rng, primary: number, secondary: number): string {
  const a = wordsOf(primary);
  const b = wordsOf(secondary);
  const w1 = a[rng.int(a.length)]!;
  let w2 = b[rng.int(b.length)]!;
  if (w2 === w1) w2 = GENERIC_WORDS[rng.int(GENERIC_WORDS.length)]!;
  const year = 1950 + rng.int(75);
  let t: string;
  switch (rng.int(12)) {
    case 0: t = `The ${w1}`; break;
    case 1: t = `The ${w1} and the ${w2}`; break;
    case 2: t = `${w1} of the ${w2}`; break;
    case 3: t = `Return of the ${w1}`; break;
    case 4: t = `${w1} Rising`; break;
    case 5: t = `Goodbye, ${w1}`; break;
    case 6: t = `The Last ${w1}`; break;
    case 7: t = `${w1}, ${w2} and Me`; break;
    case 8: t = `Tales of the ${w1}`; break;
    case 9: t = `Hello, ${w2}`; break;
    case 10: t = `${w1} ${2 + rng.int(3)}`; break;
    default: t = `${/^[AEIOU]/.test(w1) ? 'An' : 'A'} ${w1} Beyond the ${w2}`; break;
  }
  return `${t} (${year})`;
}

