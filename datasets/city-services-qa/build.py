"""Assemble `items.jsonl` of the city-services-qa dataset from the hand-written pages below.

Every page, question and answer was written by hand for this project about the FICTIONAL City of
Quillan Falls: departments, people, addresses, fees and dates are invented; phone numbers use the
555-01xx range reserved for fiction. Each page is a paragraph like one of a city website; each question
is answerable from it (the answers are spans copied verbatim from the page) or plausible and on-topic
but NOT answerable from it (answers []). Run `python build.py` to rewrite items.jsonl, then update the
sha256 in card.yaml. The script refuses pages or items that break the dataset's rules.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

Q = tuple  # (question, answers) or (question, answers, paraphrases)

PAGES: list[tuple[str, str, list[Q]]] = [
    # ---------------------------------------------------------------- permits
    ("permits",
     "Building permits in the City of Quillan Falls are issued by the Department of Planning and Permits, "
     "200 Civic Plaza, Room 310. A permit is required for any addition, a new deck more than 30 inches above "
     "the ground, re-roofing of more than 400 square feet, or changes to plumbing or electrical systems. "
     "Residential permit applications are reviewed within 15 business days; commercial applications within "
     "30 business days. The base fee for a residential building permit is $185, plus $0.42 per square foot of "
     "new floor area. The permit counter is open Monday through Thursday, 8:00 a.m. to 4:30 p.m. Questions can "
     "be sent to permits@quillanfalls.example or by phone at (555) 555-0118.",
     [("How long does the City take to review a residential building permit application?", ["15 business days"],
       ["What is the review time for a residential permit application?",
        "Within how many days are home building permit applications reviewed?"]),
      ("What is the base fee for a residential building permit?", ["$185"],
       ["How much is the basic fee for a home building permit?",
        "What does a residential building permit cost before the per-square-foot charge?"]),
      ("How much is charged per square foot of new floor area?", ["$0.42 per square foot", "$0.42"]),
      ("In which room is the building permit counter?", ["Room 310"]),
      ("What is the base fee for a commercial building permit?", []),
      ("How much does a demolition permit cost?", []),
      ("What is the fax number of the Department of Planning and Permits?", [])]),
    ("permits",
     "Fences up to 6 feet tall in side and rear yards do not need a building permit in Quillan Falls, but they "
     "must meet zoning rules. Front-yard fences are limited to 4 feet. A fence taller than 6 feet needs a Minor "
     "Structure Permit, which costs $65 and is usually approved in 5 business days. Pool barriers are a "
     "separate matter: every residential pool deeper than 24 inches must be enclosed by a fence at least 5 feet "
     "high with a self-closing gate. Call the zoning desk at (555) 555-0121 before you build on a property line "
     "shared with a neighbour.",
     [("How tall may a front-yard fence be?", ["4 feet"]),
      ("How much does a Minor Structure Permit cost?", ["$65"],
       ["What is the fee for a Minor Structure Permit?",
        "How much do I pay for a permit for a fence taller than 6 feet?"]),
      ("How high must the fence around a residential pool be?", ["at least 5 feet", "5 feet"]),
      ("What is the phone number of the zoning desk?", ["(555) 555-0121"]),
      ("How much does a permit for a residential swimming pool cost?", []),
      ("What is the phone number of the building inspections desk?", [],
       ["How do I reach building inspections by phone?",
        "Which number do I call to schedule a building inspection?"])]),
    ("permits",
     "Residents can close a residential street for a block party with a Special Event Street Closure permit "
     "from the Office of Special Events. Apply at least 21 days before the event. The application fee is $40 "
     "for block parties and $350 for commercial events with vendors. Closures may run from 9:00 a.m. to 10:00 "
     "p.m. and are not allowed on streets served by a bus route. The organiser must collect signatures from at "
     "least 60 percent of households on the block. Barricades can be borrowed free of charge from the Public "
     "Works yard at 48 Tannery Road.",
     [("How many days before a block party must the street closure permit be requested?", ["21 days"]),
      ("What is the application fee for a block party street closure?", ["$40"],
       ["How much does a block party permit cost?",
        "What do residents pay to apply to close their street for a block party?"]),
      ("What share of households on the block must sign for a block party?", ["60 percent"]),
      ("Where can organisers borrow barricades?", ["48 Tannery Road", "the Public Works yard at 48 Tannery Road"]),
      ("What is the phone number of the Office of Special Events?", []),
      ("How much liability insurance must a block party organiser carry?", [])]),
    ("permits",
     "Restaurants that place tables on the public sidewalk need an Outdoor Dining Permit. The annual fee is $12 "
     "per square foot of sidewalk used, with a minimum of $300. Permits run from April 1 to March 31 and must be "
     "renewed every year. A clear walking path of at least 5 feet must be kept between the tables and the curb. "
     "Applications go to the Department of Planning and Permits; in 2025 the City waived the fee for the first "
     "season for businesses in the Riverside Commercial District.",
     [("What is the annual fee per square foot for an Outdoor Dining Permit?", ["$12 per square foot", "$12"]),
      ("What is the minimum fee for an Outdoor Dining Permit?", ["$300"],
       ["What is the least a restaurant pays for a sidewalk dining permit?",
        "How much is the smallest Outdoor Dining Permit fee?"]),
      ("How wide must the clear walking path next to sidewalk tables be?", ["at least 5 feet", "5 feet"]),
      ("On what date do Outdoor Dining Permits expire?", ["March 31"]),
      ("Which district's businesses had the outdoor dining fee waived in 2026?", []),
      ("How much does a sidewalk permit for a food truck cost?", [])]),
    ("permits",
     "Removing a tree with a trunk diameter of 12 inches or more, measured 4.5 feet above the ground, requires "
     "a Tree Removal Permit from the Urban Forestry Division. The permit costs $95 per tree. For each protected "
     "tree removed, the owner must plant two replacement trees or pay $450 into the City Tree Fund. Trees of any "
     "size in the public planting strip belong to the City; call Urban Forestry at (555) 555-0133 rather than "
     "cutting them. Emergency removals of hazardous trees may be done first and permitted within 3 business "
     "days.",
     [("From what trunk diameter does removing a tree need a permit?", ["12 inches"]),
      ("How much does a Tree Removal Permit cost?", ["$95 per tree", "$95"]),
      ("How much must an owner pay into the City Tree Fund instead of planting replacement trees?", ["$450"],
       ["What is the payment in lieu of replacement planting?",
        "If I don't plant replacement trees, how much do I pay the Tree Fund?"]),
      ("Within how many days must an emergency tree removal be permitted?", ["3 business days"]),
      ("What is the fine for removing a protected tree without a permit?", [],
       ["How much is the penalty for cutting down a protected tree without approval?",
        "What fine applies to unpermitted removal of a protected tree?"]),
      ("What is the email address of the Urban Forestry Division?", [])]),
    ("permits",
     "Every business operating in Quillan Falls, including home-based businesses, must hold a City Business "
     "License. The license runs from January 1 to December 31, and renewals are due by January 31; renewals "
     "paid after that date incur a 10 percent late penalty each month. The base fee is $75, plus $8 per "
     "employee beyond the first five. Home occupation businesses with no employees pay a flat $50. Apply through "
     "the Office of Revenue, 200 Civic Plaza, Room 140, telephone (555) 555-0145.",
     [("What is the base fee for a City Business License?", ["$75"],
       ["How much does a business license cost before employee charges?",
        "What is the basic business license fee?"]),
      ("By what date are business license renewals due?", ["January 31"]),
      ("What is the monthly late penalty on a business license renewal?", ["10 percent"]),
      ("What does a home occupation business with no employees pay?", ["a flat $50", "$50"]),
      ("What is the phone number of the Office of Revenue?", ["(555) 555-0145"]),
      ("How much does a temporary vendor license for a one-day festival cost?", [],
       ["What is the fee to sell at a single-day festival?",
        "How much is a one-day vendor license?"]),
      ("How much does it cost to transfer a business license to a new owner?", [])]),
    ("permits",
     "Residents of Residential Permit Parking (RPP) zones may buy an annual permit that exempts them from the "
     "2-hour time limit in their zone. The first permit for a household costs $40 a year, the second $80, and "
     "no household may have more than three. Visitor permits are sold in books of 20 one-day passes for $10. "
     "Permits are valid from September 1 to August 31. Apply online with your vehicle registration and a proof "
     "of address dated within 60 days.",
     [("How much does a household's first residential parking permit cost?", ["$40 a year", "$40"]),
      ("How much does the second residential parking permit cost?", ["$80"]),
      ("How much is a book of visitor parking passes?", ["$10"],
       ["What does a book of 20 one-day visitor passes cost?",
        "What is the price of visitor permits in an RPP zone?"]),
      ("From what date are residential parking permits valid?", ["September 1"]),
      ("How recent must the proof of address be?", ["within 60 days", "60 days"]),
      ("How much does a household's third residential parking permit cost?", [],
       ["What is the price of a third RPP permit?",
        "If we already have two parking permits, what does another one cost?"]),
      ("How much does it cost to replace a lost residential parking permit?", [])]),
    # ------------------------------------------------------- trash and recycling
    ("trash-recycling",
     "The City of Quillan Falls collects household trash, recycling and yard waste once a week. Your collection "
     "day depends on your zone: Zone A is collected on Monday, Zone B on Tuesday, Zone C on Wednesday and Zone D "
     "on Thursday. Carts must be at the curb by 6:00 a.m. on collection day and taken back by 8:00 p.m. the same "
     "day. Trash goes in the black cart, recycling in the blue cart and yard waste in the green cart. When a "
     "City holiday falls on a weekday, collection for that day and the rest of the week slides one day later.",
     [("On what day is Zone C collected?", ["Wednesday"]),
      ("By what time must carts be at the curb on collection day?", ["6:00 a.m."],
       ["What time should I put my carts out?",
        "How early do carts have to be at the curb?"]),
      ("By what time must carts be taken back from the curb?", ["8:00 p.m."]),
      ("Which cart is used for recycling?", ["the blue cart", "blue"]),
      ("On what day is Zone E collected?", []),
      ("What is the fine for leaving a cart at the curb overnight?", [])]),
    ("trash-recycling",
     "Holiday collection schedule for 2026: there is no collection on New Year's Day (Thursday, January 1), "
     "Memorial Day (Monday, May 25), Independence Day (observed Friday, July 3), Labor Day (Monday, September "
     "7), Thanksgiving (Thursday, November 26) and Christmas Day (Friday, December 25). In a holiday week, every "
     "collection after the holiday happens one day late, so Thursday routes are picked up on Friday. The "
     "Recycling Drop-off Center at 48 Tannery Road is also closed on these six days.",
     [("On what date is there no collection for Thanksgiving in 2026?", ["Thursday, November 26", "November 26"]),
      ("On what day is Independence Day observed for collection in 2026?", ["Friday, July 3", "July 3"],
       ["Which day is the July 4 holiday observed in 2026?",
        "When is there no pickup for Independence Day 2026?"]),
      ("On what date is Labor Day in the 2026 schedule?", ["Monday, September 7", "September 7"]),
      ("How many holidays is the Recycling Drop-off Center closed?", ["six"]),
      ("What are the holiday collection dates for 2027?", [],
       ["Which days will there be no collection in 2027?",
        "What is the 2027 holiday trash schedule?"]),
      ("On what date was Thanksgiving collection skipped in 2025?", [])]),
    ("trash-recycling",
     "Each household may book two free bulky item pickups per calendar year for furniture, mattresses and large "
     "appliances. Book online or call 311 at least 5 days ahead; items must be at the curb by 6:00 a.m. on the "
     "scheduled day. A single pickup may include up to 4 items. Additional pickups cost $35 each. Appliances "
     "that contain refrigerant, such as refrigerators and air conditioners, need a Freon tag, which costs $20 "
     "and is sold at the Recycling Drop-off Center. Tires, paint and car batteries are not accepted in bulky "
     "pickups.",
     [("How many free bulky item pickups does a household get per year?", ["two"]),
      ("How many items may a single bulky pickup include?", ["up to 4 items", "4"]),
      ("How much does an additional bulky item pickup cost?", ["$35"],
       ["What is the fee for a third bulky pickup in a year?",
        "How much do extra bulky item collections cost?"]),
      ("How much does a Freon tag cost?", ["$20"]),
      ("How much does it cost to drop off a tire at the Recycling Drop-off Center?", []),
      ("How many bulky item pickups may a business book per year?", [])]),
    ("trash-recycling",
     "Blue-cart recycling accepts paper, flattened cardboard, metal cans, glass bottles and jars, and plastic "
     "bottles and tubs numbered 1, 2 and 5. Items should be empty and loose, never in plastic bags. Plastic bags "
     "and film go back to grocery stores, not in the cart. Pizza boxes are accepted if they are not heavily "
     "greasy. Carts found with more than 10 percent contamination receive an 'Oops' tag; after three tags in 12 "
     "months, the recycling cart may be removed. Questions? Email recycle@quillanfalls.example.",
     [("Which plastic numbers are accepted in the blue cart?", ["1, 2 and 5"],
       ["What numbered plastics can go in recycling?",
        "Which resin codes does blue-cart recycling take?"]),
      ("Above what contamination level does a cart get an 'Oops' tag?", ["more than 10 percent", "10 percent"]),
      ("How many 'Oops' tags can lead to removal of the recycling cart?", ["three"]),
      ("What email address answers recycling questions?", ["recycle@quillanfalls.example"]),
      ("Does the Recycling Drop-off Center accept plastics numbered 3?", []),
      ("What is the phone number of the recycling hotline?", [])]),
    ("trash-recycling",
     "Household hazardous waste (HHW), including paint, motor oil, pesticides, pool chemicals and fluorescent "
     "bulbs, is accepted free from Quillan Falls residents at the HHW Facility, 51 Tannery Road, Building C. "
     "The facility is open the first and third Saturday of each month from 9:00 a.m. to 2:00 p.m. Bring proof of "
     "residency such as a utility bill. The limit is 15 gallons or 125 pounds per visit. Businesses must use a "
     "licensed hauler and are not served at the facility. Never pour HHW into storm drains; illegal dumping "
     "carries a fine of up to $1,000.",
     [("Where is the HHW Facility?", ["51 Tannery Road, Building C"]),
      ("What are the HHW Facility's hours?", ["9:00 a.m. to 2:00 p.m."]),
      ("How many gallons of hazardous waste may a resident bring per visit?", ["15 gallons"],
       ["What is the per-visit liquid limit at the HHW Facility?",
        "How much hazardous waste can I drop off at one time, in gallons?"]),
      ("What is the maximum fine for illegal dumping of hazardous waste?", ["up to $1,000", "$1,000"]),
      ("What is the phone number of the HHW Facility?", []),
      ("Where can residents dispose of used syringes?", [])]),
    ("trash-recycling",
     "Trash service is billed on your utility bill and depends on the size of your black cart. A 32-gallon cart "
     "costs $24.50 per month, a 64-gallon cart $36.75 and a 96-gallon cart $49.00. Blue recycling and green "
     "yard waste carts are included at no extra charge. To change cart size, call 311; the first change each "
     "year is free and later changes cost $25. Damaged or stolen carts are replaced free of charge within 10 "
     "business days.",
     [("How much does a 64-gallon trash cart cost per month?", ["$36.75"],
       ["What is the monthly rate for the 64-gallon black cart?",
        "What do I pay each month for a medium trash cart?"]),
      ("How much does a 32-gallon trash cart cost per month?", ["$24.50 per month", "$24.50"]),
      ("How much does a second cart size change in a year cost?", ["$25"]),
      ("How soon is a stolen cart replaced?", ["within 10 business days", "10 business days"]),
      ("How much does a second black trash cart cost?", [],
       ["What is the fee for an extra trash cart?",
        "Can I get another black cart, and at what monthly price?"]),
      ("How much does a 20-gallon trash cart cost?", [])]),
    # ------------------------------------------------------------------ transit
    ("transit",
     "Quillan Falls Transit (QFT) runs 14 bus routes and the Riverside streetcar. A single adult fare is $1.75 "
     "and includes free transfers for 90 minutes. A day pass costs $4.50 and a 31-day pass $58. Seniors 65 and "
     "older, people with disabilities and Medicare card holders pay a reduced fare of $0.85 with a Reduced Fare "
     "ID. Children under 6 ride free with a paying adult, up to three children per adult. Fares can be paid in "
     "cash, with the QFT Go app or with a Tap card.",
     [("How much is a single adult fare on QFT?", ["$1.75"],
       ["What does one adult bus ride cost?",
        "What is the regular adult fare on Quillan Falls Transit?"]),
      ("How long are transfers free?", ["90 minutes"]),
      ("How much does a 31-day pass cost?", ["$58"],
       ["What is the price of a monthly QFT pass?",
        "How much is the 31-day bus pass?"]),
      ("What is the reduced fare?", ["$0.85"]),
      ("How many bus routes does QFT run?", ["14"]),
      ("How much does a 7-day pass cost?", [],
       ["What is the price of a weekly QFT pass?",
        "How much is a one-week bus pass?"]),
      ("How much does a Reduced Fare ID cost?", []),
      ("What is the fare on the airport express bus?", [])]),
    ("transit",
     "To get a Reduced Fare ID, visit the QFT Customer Service Center at 310 Main Street, open weekdays 7:30 "
     "a.m. to 5:30 p.m. Bring a photo ID showing your age or proof of disability, such as a Medicare card or a "
     "letter from a doctor. The first card is free; a replacement costs $5. Cards for riders 65 and older never "
     "expire; disability cards must be renewed every 4 years. The photo is taken on site, and the card is "
     "printed while you wait, usually within 15 minutes.",
     [("Where is the QFT Customer Service Center?", ["310 Main Street"]),
      ("How much does a replacement Reduced Fare ID cost?", ["$5"],
       ["What is the fee for a new Reduced Fare ID if I lose mine?",
        "How much to replace a lost reduced fare card?"]),
      ("How often must disability Reduced Fare IDs be renewed?", ["every 4 years"]),
      ("How long does it usually take to print a Reduced Fare ID?", ["within 15 minutes", "15 minutes"]),
      ("What time does the Customer Service Center open on weekdays?", ["7:30 a.m."]),
      ("What is the phone number of the QFT Customer Service Center?", []),
      ("How much does a regular adult Tap card cost?", [])]),
    ("transit",
     "QFT Access is a shared-ride, door-to-door service for people whose disability prevents them from using "
     "regular buses. Trips must start and end within three-quarters of a mile of a fixed bus route and are "
     "available during the same hours as the buses. Each one-way trip costs $3.50. Reservations are taken from "
     "1 to 7 days in advance by calling (555) 555-0150 between 8:00 a.m. and 5:00 p.m. Eligibility is decided "
     "after an in-person assessment, usually within 21 days of a complete application. A personal care "
     "attendant rides free.",
     [("How much does a one-way QFT Access trip cost?", ["$3.50"],
       ["What is the paratransit fare for one trip?",
        "How much do I pay for a one-way ride on QFT Access?"]),
      ("What number takes QFT Access reservations?", ["(555) 555-0150"]),
      ("How long does an eligibility decision usually take?", ["within 21 days", "21 days"]),
      ("How far from a bus route must QFT Access trips start and end?", ["within three-quarters of a mile",
                                                                          "three-quarters of a mile"]),
      ("How much does a companion who is not a care attendant pay to ride QFT Access?", []),
      ("What website takes QFT Access reservations?", [])]),
    ("transit",
     "Starting Sunday, March 1, 2026, Route 7 Harbor Loop will run every 12 minutes on weekdays instead of every "
     "20 minutes. Route 22 will be discontinued and replaced by the new Route 23, which serves Quillan Falls "
     "Community College. The Riverside streetcar keeps its schedule: every 10 minutes from 6:00 a.m. to "
     "midnight. Public hearings on these changes were held on November 18, 2025, at the Council Chambers. "
     "Comments can be sent to planning@qftransit.example until January 31, 2026.",
     [("How often will Route 7 run on weekdays after the change?", ["every 12 minutes"],
       ["What is Route 7's new weekday frequency?",
        "After March 2026, how frequent is the Harbor Loop on weekdays?"]),
      ("When do the Route 7 changes start?", ["Sunday, March 1, 2026", "March 1, 2026"]),
      ("Which route replaces Route 22?", ["Route 23"]),
      ("When was the public hearing on the service changes held?", ["November 18, 2025"]),
      ("How often does the Riverside streetcar run?", ["every 10 minutes"]),
      ("How often will Route 23 run?", [],
       ["What is the frequency of the new Route 23?",
        "How many minutes apart are Route 23 buses?"]),
      ("How often will Route 7 run on weekends after March 1, 2026?", [])]),
    ("transit",
     "QF Bikes, the City's bike share, has 60 stations and 500 bikes, 200 of them electric. A single ride costs "
     "$1 to unlock plus $0.15 per minute; electric bikes cost $0.30 per minute. An annual membership is $90 and "
     "includes unlimited 45-minute rides on classic bikes. Residents enrolled in SNAP or Medicaid can get a "
     "Community Pass for $5 a year. Bikes must be returned to a station; a bike left outside a station is "
     "charged a $25 fee.",
     [("How many bike share stations are there?", ["60"]),
      ("How much per minute does an electric bike cost?", ["$0.30 per minute", "$0.30"]),
      ("How much is an annual QF Bikes membership?", ["$90"],
       ["What does a yearly bike share membership cost?",
        "What is the price of an annual membership to QF Bikes?"]),
      ("How much does the Community Pass cost?", ["$5 a year", "$5"]),
      ("What is the fee for leaving a bike outside a station?", ["$25"]),
      ("How much is a monthly QF Bikes membership?", []),
      ("What is the fee for keeping a bike more than 24 hours?", [])]),
    # ----------------------------------------------------------------- benefits
    ("benefits",
     "The Utility Assistance Program lowers water and sewer bills by 35 percent for income-eligible households. "
     "A household of four qualifies with a gross annual income of $62,400 or less; a household of one with "
     "$31,200 or less. Applications are accepted all year by the Department of Human Services, 115 Larch "
     "Street, and approvals last 24 months. Apply online or by mail with last year's tax return or two recent "
     "pay stubs. The program manager is Odalys Brightwater.",
     [("By how much does the Utility Assistance Program lower water and sewer bills?", ["35 percent"],
       ["What discount does the Utility Assistance Program give?",
        "How big is the water bill reduction for eligible households?"]),
      ("What is the income limit for a household of four?", ["$62,400 or less", "$62,400"]),
      ("What is the income limit for a household of one?", ["$31,200 or less", "$31,200"]),
      ("How long does an approval last?", ["24 months"]),
      ("Who manages the Utility Assistance Program?", ["Odalys Brightwater"]),
      ("What is the income limit for a household of three?", [],
       ["How much can a three-person household earn and still qualify?",
        "What is the maximum income for a family of three?"]),
      ("How much does the program reduce electricity bills?", []),
      ("What is the phone number of the Department of Human Services?", [])]),
    ("benefits",
     "Homeowners aged 65 or older, or who are permanently disabled, may reduce City property taxes through the "
     "Senior and Disabled Tax Relief Program. To qualify for 2026, total household income in 2025 must be below "
     "$48,000 and the home must be the owner's primary residence. Approved applicants receive a credit of up to "
     "$1,200 on their 2026 tax bill. The application deadline for 2026 is April 30, 2026. Forms are available "
     "from the Office of the City Assessor, 200 Civic Plaza, Room 105, or by calling (555) 555-0164.",
     [("What is the household income limit for the 2026 tax relief?", ["$48,000"]),
      ("What is the largest credit on the 2026 tax bill?", ["up to $1,200", "$1,200"],
       ["How much can the tax relief credit be at most?",
        "What is the maximum property tax credit for 2026?"]),
      ("What is the application deadline for 2026 tax relief?", ["April 30, 2026"],
       ["By when must I apply for 2026 senior tax relief?",
        "When is the last day to apply for the 2026 program?"]),
      ("In which room is the Office of the City Assessor?", ["Room 105"]),
      ("What was the application deadline for the 2025 tax relief?", [],
       ["By when did one have to apply for the program in 2025?",
        "What was last year's deadline for senior tax relief?"]),
      ("What is the maximum credit on the 2027 tax bill?", [])]),
    ("benefits",
     "The Keep Quillan Housed fund pays up to three months of past-due rent, to a maximum of $4,500, for "
     "renters facing eviction. Households must earn no more than 60 percent of the area median income and live "
     "in Quillan Falls. Payments go directly to the landlord. Applications open on the first business day of "
     "each month at 9:00 a.m. and close when that month's funds are committed. Call the Housing Stability Line "
     "at (555) 555-0172 for help applying in English, Spanish or Vietnamese.",
     [("What is the maximum the Keep Quillan Housed fund pays?", ["$4,500"],
       ["What is the cap on rent help from Keep Quillan Housed?",
        "How much past-due rent can the fund cover at most?"]),
      ("What is the income limit for Keep Quillan Housed?", ["no more than 60 percent of the area median income",
                                                             "60 percent of the area median income"]),
      ("What is the phone number of the Housing Stability Line?", ["(555) 555-0172"]),
      ("At what time do applications open each month?", ["9:00 a.m."]),
      ("How much did the fund pay out in total in 2025?", []),
      ("What is the largest security deposit the fund will pay?", [])]),
    ("benefits",
     "The Parks and Recreation Department offers fee waivers for youth programs. Children from families "
     "receiving SNAP, TANF or free school lunch may receive a waiver covering 90 percent of program fees, up to "
     "$600 per child per year. Summer day camp runs for 9 weeks, from June 15 to August 14, 2026, and costs $175 "
     "per week before any waiver. Waiver applications for summer 2026 are due May 15, 2026. Contact the "
     "recreation office at (555) 555-0186.",
     [("What share of program fees does the waiver cover?", ["90 percent"]),
      ("What is the most a waiver covers per child per year?", ["up to $600 per child per year", "$600"]),
      ("How much does summer day camp cost per week?", ["$175 per week", "$175"],
       ["What is the weekly price of summer camp?",
        "How much is one week of day camp before a waiver?"]),
      ("When does summer day camp run in 2026?", ["from June 15 to August 14, 2026", "June 15 to August 14, 2026"]),
      ("When are summer 2026 waiver applications due?", ["May 15, 2026"]),
      ("When are fee waiver applications for fall 2026 after-school programs due?", []),
      ("How much does summer day camp cost for non-residents?", [])]),
    ("benefits",
     "The Energy Crisis Assistance program, run by the Department of Human Services with state funds, helps "
     "households that have a shut-off notice from their gas or electric utility. It pays up to $800 once in a "
     "12-month period. Applicants need a current shut-off notice, a photo ID and proof of income for the last "
     "30 days. The program opens on November 1 each year and runs until funds run out. Appointments are held "
     "at the Eastside Community Center, 920 Poplar Avenue.",
     [("How much does Energy Crisis Assistance pay at most?", ["up to $800", "$800"]),
      ("For what period must applicants show proof of income?", ["the last 30 days", "30 days"]),
      ("When does the Energy Crisis Assistance program open each year?", ["November 1"]),
      ("Where are appointments held?", ["the Eastside Community Center, 920 Poplar Avenue", "920 Poplar Avenue"]),
      ("What is the income limit for Energy Crisis Assistance?", [],
       ["How much can a household earn and still get energy crisis help?",
        "What are the income rules for the Energy Crisis Assistance program?"]),
      ("What phone number schedules Energy Crisis Assistance appointments?", [])]),
    ("benefits",
     "The Quillan Falls Municipal ID is a free photo identification card for all residents aged 14 and older, "
     "regardless of immigration status. It is accepted by City agencies, the public library and QFT as proof of "
     "identity and residency. Cards are valid for 5 years. Apply in person at the Municipal ID Office, 115 Larch "
     "Street, second floor, with one proof of identity and one proof of residency dated within 90 days. "
     "Replacement cards cost $10; the fee is waived for victims of theft with a police report.",
     [("From what age can residents get a Municipal ID?", ["14"]),
      ("How long is a Municipal ID valid?", ["5 years"],
       ["For how many years does the Municipal ID last?",
        "When does a Municipal ID expire after it is issued?"]),
      ("Where is the Municipal ID Office?", ["115 Larch Street, second floor", "115 Larch Street"]),
      ("How much does a replacement Municipal ID cost?", ["$10"]),
      ("Which banks accept the Municipal ID?", []),
      ("How long does it take to receive the Municipal ID after applying?", [],
       ["How many days until the Municipal ID card arrives?",
        "What is the processing time for a Municipal ID?"])]),
    # ----------------------------------------------------------- public records
    ("public-records",
     "Anyone may request City records under the Quillan Falls Public Records Ordinance; you do not need to give "
     "a reason. Submit requests through the Records Portal or in writing to the City Clerk, Marisol Quennevet, "
     "200 Civic Plaza, Room 120. The City must respond within 10 business days and may extend that once by "
     "another 10 business days for large requests. Electronic copies are free. Paper copies cost $0.10 per "
     "page after the first 50 pages. Certified copies cost $3 per document.",
     [("Who is the City Clerk?", ["Marisol Quennevet"],
       ["What is the name of the Quillan Falls City Clerk?",
        "To whom are written records requests addressed?"]),
      ("Within how many days must the City respond to a records request?", ["10 business days"],
       ["How long does the City have to answer a public records request?",
        "What is the response deadline for records requests?"]),
      ("How much do paper copies cost?", ["$0.10 per page", "$0.10"]),
      ("How many paper pages are free?", ["the first 50 pages", "50 pages"]),
      ("How much does a certified copy cost?", ["$3 per document", "$3"]),
      ("How much do copies of video recordings cost?", []),
      ("What is the phone number of the City Clerk?", [],
       ["How can I call the City Clerk's office?",
        "What number reaches the Clerk about a records request?"])]),
    ("public-records",
     "Some records are exempt from disclosure, including personnel evaluations, ongoing criminal investigations "
     "and personal information such as Social Security numbers, which are redacted. If your request is denied "
     "in whole or in part, the City will cite the exemption it relied on. You may appeal a denial to the "
     "Records Review Board within 30 days of the decision. The Board meets on the second Tuesday of each month "
     "and decides appeals within 45 days of receipt. The chair of the Records Review Board is Dr. Anselm "
     "Pettigrove.",
     [("How long do you have to appeal a records denial?", ["within 30 days of the decision", "30 days"],
       ["What is the deadline for appealing a denied records request?",
        "Within how many days can I appeal to the Records Review Board?"]),
      ("When does the Records Review Board meet?", ["the second Tuesday of each month", "second Tuesday"]),
      ("Within how many days does the Board decide appeals?", ["45 days"]),
      ("Who chairs the Records Review Board?", ["Dr. Anselm Pettigrove", "Anselm Pettigrove"]),
      ("How many days do you have to go to court after a Board decision?", []),
      ("What fee is charged to file an appeal with the Records Review Board?", [])]),
    ("public-records",
     "Copies of police incident reports can be requested from the Quillan Falls Police Department Records Unit, "
     "77 Garrison Street, window 4. Reports are normally available 7 business days after the incident. A copy "
     "costs $15; victims of the incident receive one free copy. Body-worn camera footage is requested through "
     "the Records Portal and is reviewed for redaction; the fee is $45 per hour of staff redaction time, with "
     "the first hour free. The Records Unit is open Tuesday to Friday, 9:00 a.m. to 4:00 p.m.",
     [("At which window are police reports requested?", ["window 4"]),
      ("How soon after an incident is a police report normally available?", ["7 business days"]),
      ("How much does a copy of a police incident report cost?", ["$15"],
       ["What is the fee for a police report copy?",
        "How much do I pay for an incident report from the Records Unit?"]),
      ("What is the fee for body camera footage redaction?", ["$45 per hour of staff redaction time",
                                                              "$45 per hour"]),
      ("What is the phone number of the Police Records Unit?", []),
      ("How long does it take to receive body camera footage?", [],
       ["When will requested body-worn camera video be released?",
        "What is the turnaround time for body cam footage requests?"])]),
    ("public-records",
     "Agendas for City Council meetings are posted at least 72 hours before each regular meeting. Regular "
     "meetings are held on the first and third Wednesday of each month at 6:30 p.m. in the Council Chambers, "
     "200 Civic Plaza. Approved minutes are posted within 14 days after approval, and video recordings are kept "
     "online for 10 years. Minutes from before 2012 are held on paper at the City Archives and can be viewed by "
     "appointment. The Council President for 2026 is Henrietta Vosskamp.",
     [("How far ahead are Council agendas posted?", ["at least 72 hours", "72 hours"],
       ["How long before a meeting must the agenda be published?",
        "When are City Council agendas posted?"]),
      ("At what time do regular Council meetings start?", ["6:30 p.m."]),
      ("How long are meeting videos kept online?", ["10 years"]),
      ("Who is the Council President for 2026?", ["Henrietta Vosskamp"],
       ["Who presides over the City Council in 2026?",
        "Name the 2026 Council President."]),
      ("Within how many days of approval are minutes posted?", ["within 14 days", "14 days"]),
      ("Who was the Council President in 2024?", [],
       ["Who presided over the Council in 2024?",
        "Name the Council President for 2024."]),
      ("What are the opening hours of the City Archives?", [])]),
    ("public-records",
     "The Open Data Portal publishes more than 300 City datasets, from 311 requests to building permits, "
     "updated daily or weekly. The data are free to use under the CC0 public domain dedication. Datasets that "
     "contain personal information are not published. The portal was launched in June 2019 by the Department of "
     "Innovation and Technology, whose Chief Data Officer is Priya Lindqvist-Amadi. Requests for new datasets "
     "can be made with the portal's Suggest a Dataset form and are reviewed quarterly.",
     [("How many datasets does the Open Data Portal publish?", ["more than 300", "300"]),
      ("Under what dedication are the portal's data free to use?", ["the CC0 public domain dedication", "CC0"]),
      ("When was the Open Data Portal launched?", ["June 2019"]),
      ("Who is the Chief Data Officer?", ["Priya Lindqvist-Amadi"],
       ["Who is the City's Chief Data Officer?",
        "Name the Chief Data Officer of the Department of Innovation and Technology."]),
      ("How often are dataset suggestions reviewed?", ["quarterly"]),
      ("How many datasets did the portal have at launch?", [],
       ["How many datasets were published when the portal opened in 2019?",
        "What was the number of datasets at the portal's launch?"]),
      ("What is the API rate limit of the Open Data Portal?", [])]),
    # ---------------------------------------------------------------------- 311
    ("311",
     "Quillan Falls 311 is the single number for non-emergency City services. Dial 311 from any phone inside "
     "the city, or (555) 555-0111 from outside the city or from a mobile phone with an out-of-area number. Call "
     "takers are available Monday through Saturday, 7:00 a.m. to 9:00 p.m.; the QF311 app and website take "
     "requests 24 hours a day. Each request gets a tracking number beginning with 'SR-'. For emergencies call "
     "911. In 2025, 311 handled 412,000 calls and answered 81 percent of them within 60 seconds.",
     [("What number reaches 311 from outside the city?", ["(555) 555-0111"],
       ["How do I call 311 from an out-of-area mobile phone?",
        "What is the full phone number for Quillan Falls 311?"]),
      ("What are 311 call-taker hours?", ["Monday through Saturday, 7:00 a.m. to 9:00 p.m.",
                                          "7:00 a.m. to 9:00 p.m."]),
      ("How do 311 tracking numbers begin?", ["'SR-'", "SR-"]),
      ("How many calls did 311 handle in 2025?", ["412,000"]),
      ("What share of 2025 calls was answered within 60 seconds?", ["81 percent"]),
      ("How many calls did 311 handle in 2024?", [],
       ["What was 311's call volume in 2024?",
        "How many calls came in to 311 during 2024?"]),
      ("In how many languages does 311 offer interpretation?", [])]),
    ("311",
     "Report potholes, broken streetlights and missing street signs to 311. The Street Maintenance Division "
     "aims to fill reported potholes within 3 business days and to repair streetlights within 7 business days. "
     "Missing stop signs are treated as emergencies and replaced within 4 hours. Damage to a vehicle caused by a "
     "pothole may be claimed from the City's Risk Management Office within 90 days; claims must include two "
     "repair estimates. The division superintendent is Bartholomew Quist.",
     [("How soon are reported potholes filled?", ["within 3 business days", "3 business days"],
       ["What is the target time to fix a pothole?",
        "How many days does the City take to fill a reported pothole?"]),
      ("How soon are broken streetlights repaired?", ["within 7 business days", "7 business days"]),
      ("How quickly is a missing stop sign replaced?", ["within 4 hours", "4 hours"]),
      ("How long do you have to file a pothole damage claim?", ["within 90 days", "90 days"],
       ["What is the deadline to claim for pothole damage to my car?",
        "Within how many days must a vehicle damage claim be filed?"]),
      ("Who is the Street Maintenance superintendent?", ["Bartholomew Quist"]),
      ("What is the maximum amount the City pays on a pothole damage claim?", []),
      ("What is the phone number of the Risk Management Office?", [])]),
    ("311",
     "Under the Quillan Falls Noise Ordinance, quiet hours are 10:00 p.m. to 7:00 a.m. on weekdays and 11:00 "
     "p.m. to 8:00 a.m. on weekends. Construction is allowed from 7:00 a.m. to 6:00 p.m. Monday to Saturday and "
     "not at all on Sundays without a variance. Report ongoing noise to 311; for a party or other noise "
     "happening now during quiet hours, 311 routes the call to the police non-emergency line, (555) 555-0177. "
     "A first violation carries a $150 fine, and a second within 12 months $300.",
     [("When do quiet hours start on weekends?", ["11:00 p.m."]),
      ("During what hours is construction allowed?", ["from 7:00 a.m. to 6:00 p.m.", "7:00 a.m. to 6:00 p.m."],
       ["What are the permitted construction hours?",
        "When may construction work happen Monday to Saturday?"]),
      ("What is the police non-emergency number?", ["(555) 555-0177"]),
      ("What is the fine for a first noise violation?", ["$150"],
       ["How much is the penalty for a first noise offence?",
        "What does a first violation of the Noise Ordinance cost?"]),
      ("What is the fine for a second noise violation within 12 months?", ["$300"]),
      ("What is the fine for a third noise violation?", [],
       ["How much is the penalty for a third noise offence?",
        "What does a third violation of the Noise Ordinance cost?"]),
      ("How much does a construction noise variance cost?", [])]),
    ("311",
     "A vehicle parked on a public street for more than 72 hours without moving may be reported to 311 as "
     "abandoned. Parking Enforcement places a warning notice and returns after 48 hours; if the vehicle has not "
     "moved, it is towed to the City Impound Lot, 1400 Foundry Lane. Release requires proof of ownership and "
     "payment of a $180 tow fee plus $30 per day of storage. The Impound Lot is open every day from 6:00 a.m. "
     "to 10:00 p.m.",
     [("After how long can a parked vehicle be reported as abandoned?", ["more than 72 hours", "72 hours"],
       ["How long must a car sit unmoved before it counts as abandoned?",
        "When can I report a car as abandoned on my street?"]),
      ("How long after the warning notice does Parking Enforcement return?", ["48 hours"]),
      ("What is the tow fee?", ["$180"],
       ["How much is the fee to get a towed car back, not counting storage?",
        "What does the City charge for towing an abandoned vehicle?"]),
      ("How much is the daily storage fee at the Impound Lot?", ["$30 per day", "$30"]),
      ("Where is the City Impound Lot?", ["1400 Foundry Lane"]),
      ("What is the parking citation amount for an abandoned vehicle?", []),
      ("What is the phone number of the City Impound Lot?", [])]),
    ("311",
     "Graffiti on public property is removed by the Graffiti Abatement Team within 2 business days of a 311 "
     "report, and offensive or hate graffiti within 24 hours. Owners of private property have 10 days after "
     "receiving a notice to remove graffiti themselves. Free paint and removal kits are available to owners at "
     "the Public Works yard, 48 Tannery Road. Owners who cannot remove it may sign a consent form letting the "
     "City do it at no charge. In 2025, the team removed 9,870 tags.",
     [("How soon is graffiti on public property removed?", ["within 2 business days", "2 business days"]),
      ("How soon is hate graffiti removed?", ["within 24 hours", "24 hours"],
       ["How quickly does the City remove offensive graffiti?",
        "What is the removal time for hate graffiti?"]),
      ("How long do private owners have to remove graffiti after a notice?", ["10 days"]),
      ("How many tags did the team remove in 2025?", ["9,870"]),
      ("What is the fine for an owner who does not remove graffiti by the deadline?", [],
       ["How much is the penalty for not cleaning graffiti off my building in time?",
        "What happens financially if an owner misses the graffiti deadline?"]),
      ("How many tags did the team remove in 2024?", [])]),
    ("311",
     "Report stray or injured animals, dead animals on the street and barking-dog complaints to 311. Dead "
     "animals on public streets are collected within 24 hours. Quillan Falls Animal Services, 2200 Kestrel "
     "Road, runs the shelter: adoption fees are $95 for dogs, $60 for cats and $25 for rabbits, including "
     "spaying or neutering and a microchip. All dogs over 4 months old must have a City dog license, costing $20 "
     "a year if spayed or neutered and $50 if not.",
     [("How soon are dead animals on public streets collected?", ["within 24 hours", "24 hours"]),
      ("How much does it cost to adopt a dog from the shelter?", ["$95"],
       ["What is the dog adoption fee?",
        "How much do I pay to adopt a dog from Animal Services?"]),
      ("What is the adoption fee for a cat?", ["$60"]),
      ("From what age must a dog be licensed?", ["over 4 months old", "4 months"]),
      ("How much is a yearly license for a dog that is not spayed or neutered?", ["$50"]),
      ("How much is a cat license?", [],
       ["What does it cost to license a cat?",
        "What is the annual fee for a cat license?"]),
      ("What are the shelter's opening hours?", [])]),
]

# A second pass of unanswerable questions, written against each page (by its index in PAGES) to bring the
# share of unanswerable items above 40 %: plausible, on-topic, and not answerable from that page.
MORE_UNANSWERABLE: dict[int, list[str]] = {
    0: ["How much does a re-inspection cost?", "How many inspections does a residential addition require?"],
    1: ["What materials are allowed for front-yard fences?", "How long is a Minor Structure Permit valid?"],
    2: ["How many block parties may one street hold per year?"],
    3: ["How many tables may a restaurant place on the sidewalk?",
        "What is the penalty for operating sidewalk dining without a permit?"],
    4: ["How many trees did Urban Forestry plant in 2025?"],
    5: ["When are business license renewal notices mailed?", "What are the Office of Revenue's opening hours?"],
    6: ["How much does a residential parking permit cost for a contractor's vehicle?",
        "How many Residential Permit Parking zones does the City have?"],
    7: ["How many households does the City collect trash from?",
        "What phone number takes reports of missed collections?"],
    8: ["What are the regular opening hours of the Recycling Drop-off Center?"],
    9: ["How many bulky item pickups did the City complete in 2025?",
        "How much does it cost to dispose of a car battery?"],
    10: ["When will the City start collecting food scraps?"],
    11: ["How many visits per year may a resident make to the HHW Facility?",
         "How many tons of hazardous waste did the HHW Facility collect in 2025?"],
    12: ["What was the monthly rate for a 64-gallon cart in 2024?"],
    13: ["How much does a Tap card cost?"],
    14: ["How many Reduced Fare IDs did QFT issue in 2025?"],
    15: ["What are QFT Access's service hours on Sundays?"],
    16: ["How often does Route 22 run today?", "What is the name of the new Route 23?"],
    17: ["How much does an annual member pay for a classic bike ride longer than 45 minutes?"],
    18: ["What is the income limit for a household of six?",
         "How long does the City take to approve a Utility Assistance application?"],
    19: ["What is the income limit for the tax relief in 2027?"],
    20: ["How many households did the Keep Quillan Housed fund help in 2025?",
         "What is the area median income in Quillan Falls?"],
    21: ["What is the fee waiver cap for adult recreation programs?"],
    22: ["How much state funding does the Energy Crisis Assistance program receive?"],
    23: ["What are the opening hours of the Municipal ID Office?"],
    24: ["How much does it cost to receive records on a USB drive?"],
    25: ["Who are the other members of the Records Review Board?"],
    26: ["How much does a copy of a fire department incident report cost?"],
    27: ["How much does a DVD copy of a Council meeting video cost?", "When are special Council meetings held?"],
    28: ["How many of the portal's datasets are updated daily?"],
    29: ["What was the average wait time on 311 calls in 2025?"],
    30: ["How many potholes were filled in 2025?"],
    31: ["When do quiet hours start on City holidays?"],
    32: ["What payment methods does the City Impound Lot accept?"],
    33: ["What is the phone number of the Graffiti Abatement Team?"],
    34: ["How much does it cost to adopt a guinea pig?"],
}

ROOT = Path(__file__).resolve().parent


def build() -> list[dict]:
    items: list[dict] = []
    if set(MORE_UNANSWERABLE) - set(range(len(PAGES))):
        raise ValueError("MORE_UNANSWERABLE names a page that does not exist")
    for page, (topic, context, questions) in enumerate(PAGES):
        questions = [*questions, *((q, []) for q in MORE_UNANSWERABLE.get(page, []))]
        words = len(context.split())
        if not 60 <= words <= 150:
            raise ValueError(f"context of {words} words (60-150 wanted): {context[:60]}...")
        for q in questions:
            question, answers = q[0], list(q[1])
            paraphrases = list(q[2]) if len(q) > 2 else []
            for a in answers:
                if a not in context:
                    raise ValueError(f"answer {a!r} to {question!r} is not in its context")
            if len(set(paraphrases)) != len(paraphrases) or question in paraphrases:
                raise ValueError(f"repeated paraphrase for {question!r}")
            items.append({"id": f"csq-{len(items) + 1:04d}", "topic": topic, "context": context,
                          "question": question, "answers": answers, "answerable": bool(answers),
                          "paraphrases": paraphrases})
    if len({(i["context"], i["question"]) for i in items}) != len(items):
        raise ValueError("duplicate question on a page")
    return items


def main() -> None:
    items = build()
    with (ROOT / "items.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for item in sorted(items, key=lambda i: i["id"]):
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    unanswerable = sum(not i["answerable"] for i in items)
    digits = sum(any(re.search(r"\d", a) for a in i["answers"]) for i in items)
    topics: dict[str, int] = {}
    for i in items:
        topics[i["topic"]] = topics.get(i["topic"], 0) + 1
    print(f"{len(items)} items from {len(PAGES)} pages; {unanswerable} unanswerable "
          f"({unanswerable / len(items):.1%}); {digits} with a digit in an answer; "
          f"{sum(bool(i['paraphrases']) for i in items)} with paraphrases; topics {topics}")


if __name__ == "__main__":
    main()
